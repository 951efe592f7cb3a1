"""The program: the command line, `run`, `snapshot`, `bench`, `forget` and their helpers."""
