"""A component module that cannot be imported, as when a library it needs is missing."""

raise ImportError("libfrobnicate.so.3: cannot open shared object file: No such file or directory")
