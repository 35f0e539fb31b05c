// Swagger UI over this service's OpenAPI document (the script and style are served by yuejuan itself).
"use strict";
window.addEventListener("load", function () {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: root.dataset.openapiUrl, dom_id: "#swagger-ui", deepLinking: true,
                                presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout",
                                validatorUrl: null });  // no badge from the internet
});
