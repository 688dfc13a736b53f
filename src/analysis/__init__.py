"""kommun-it: IT spend per inhabitant in Sweden's 290 municipalities, and whether sharing IT lowers it."""

__version__ = "0.1.0"
