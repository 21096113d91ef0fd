"""Moving a game from Nakama to Kizuna."""
