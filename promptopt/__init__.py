"""promptopt: prompt optimisation and synthetic GI endoscopy images for ImageCLEFmed MEDVQA-GI."""

__version__ = "0.1.0"
