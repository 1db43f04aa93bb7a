"""Feedback on the bot's lines from the store's people: ratings (up or down, with a reason) by reps, marketers and
admins, the reply the bot should have given by a rep who took over, and each bot line's summary of them."""
