"""The REST API (DRF): datasets, points, series, plots, area means, GNSS and reflectors."""
