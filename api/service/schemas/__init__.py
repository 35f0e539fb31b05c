"""Request and response models: separate Create / Update / Public models per resource, one module per area."""
