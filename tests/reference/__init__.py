"""Reference implementations in plain numpy, written from the papers, not from the library."""
