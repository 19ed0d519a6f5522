"""The whole Signal9 stack on an embedded moto server: ``signal9 local up``."""
