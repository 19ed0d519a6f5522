"""SyncAssets Lambda handler (``functions.sync_assets.handler.handler``)."""
