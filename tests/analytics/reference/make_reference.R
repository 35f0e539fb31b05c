# Reference figures for yuejuan's item, test and score statistics, computed in base R.
#
# This is NOT mirt or ltm themselves (neither can be installed from Debian, and CRAN is out of reach): it is base R
# with the definitions those packages use written out, as documented in mirt::itemstats and ltm::cronbach.alpha:
#   total.r       = cor(item, total)                      (mirt::itemstats)
#   total.r_if_rm = cor(item, total - item)               (mirt::itemstats)
#   alpha         = k/(k-1) * (1 - sum(apply(x, 2, var)) / var(total))   (ltm::cronbach.alpha, mirt::itemstats)
#   alpha_if_rm   = alpha of the data without the item    (mirt::itemstats)
#   SEM.alpha     = sd(total) * sqrt(1 - alpha)           (mirt::itemstats)
# plus the upper-lower 27 % discrimination, ranks (rank(ties.method = "min")), percentile ranks, z scores and
# type-7 quantiles as yuejuan defines them (docs/statistics.md).
#
# Run from this folder:   Rscript make_reference.R   (writes reference.json; needs only r-base-core)

num <- function(v) {
  if (length(v) == 0) return("[]")
  parts <- ifelse(is.na(v), "null", sprintf("%.12g", v))
  paste0("[", paste(parts, collapse = ","), "]")
}
scalar <- function(v) if (is.na(v)) "null" else sprintf("%.12g", v)

alpha_of <- function(x) {
  k <- ncol(x)
  if (k < 2) return(NA_real_)
  total <- rowSums(x)
  k / (k - 1) * (1 - sum(apply(x, 2, var)) / var(total))
}

points_all <- read.csv("points.csv", stringsAsFactors = FALSE)
blocks <- character(0)
for (name in c("binary", "polytomous", "constant")) {
  x <- as.matrix(read.csv(paste0(name, ".csv")))
  pts <- points_all$points[points_all$dataset == name]
  n <- nrow(x); k <- ncol(x)
  total <- rowSums(x)
  item_mean <- colMeans(x)
  item_sd <- apply(x, 2, sd)
  total_r <- suppressWarnings(sapply(seq_len(k), function(j) cor(x[, j], total)))
  total_r_if_rm <- suppressWarnings(sapply(seq_len(k), function(j) cor(x[, j], total - x[, j])))
  alpha_if_rm <- sapply(seq_len(k), function(j) alpha_of(x[, -j, drop = FALSE]))
  alpha <- alpha_of(x)
  sem <- sd(total) * sqrt(1 - alpha)
  # upper/lower 27 %: order(-total) is stable in R, ties keep input order
  ng <- max(1, floor(0.27 * n + 0.5))
  o <- order(-total)
  upper <- o[1:ng]; lower <- o[(n - ng + 1):n]
  D <- (colMeans(x[upper, , drop = FALSE]) - colMeans(x[lower, , drop = FALSE])) / pts
  rank_min <- rank(-total, ties.method = "min")
  below <- sapply(total, function(v) sum(total < v))
  equal <- sapply(total, function(v) sum(total == v))
  pr <- 100 * (below + 0.5 * equal) / n
  z <- (total - mean(total)) / sd(total)
  q <- quantile(total, c(0.25, 0.5, 0.75), type = 7, names = FALSE)
  blocks <- c(blocks, paste0(
    "\"", name, "\": {",
    "\"n\": ", n, ", \"k\": ", k,
    ", \"points\": ", num(pts),
    ", \"mean\": ", num(item_mean), ", \"sd\": ", num(item_sd),
    ", \"difficulty\": ", num(item_mean / pts),
    ", \"discrimination\": ", num(D),
    ", \"total_r\": ", num(total_r), ", \"total_r_if_rm\": ", num(total_r_if_rm),
    ", \"alpha_if_rm\": ", num(alpha_if_rm),
    ", \"alpha\": ", scalar(alpha), ", \"sem\": ", scalar(sem),
    ", \"total_mean\": ", scalar(mean(total)), ", \"total_sd\": ", scalar(sd(total)),
    ", \"rank\": ", num(rank_min), ", \"percentile_rank\": ", num(pr), ", \"z\": ", num(z),
    ", \"quartiles\": ", num(q),
    "}"))
}
writeLines(paste0("{\n\"generator\": \"base R ", R.version$major, ".", R.version$minor,
                  " implementing the mirt::itemstats / ltm::cronbach.alpha definitions (not mirt itself)\",\n",
                  paste(blocks, collapse = ",\n"), "\n}"), "reference.json")
