"""PollenateAsset Lambda handler (``functions.pollenate_asset.handler.handler``)."""
