"""SyncNewsSentiment Lambda handler (``functions.sync_news_sentiment.handler.handler``)."""
