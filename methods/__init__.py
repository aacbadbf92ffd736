"""Built-in method plugins; every non-private module here registers one method."""
