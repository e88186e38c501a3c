"""Console scripts: svc-launch runs services, svc-manage administers them."""
