"""The autodiff engine. It knows nothing about specific ops: ops register themselves."""
