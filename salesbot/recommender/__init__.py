"""Recommender: LightFM trained on the store's events, evaluated honestly, served with business filters."""
