"""Many images on Dask: each unique layer scanned once by a worker, results in a shared store."""
