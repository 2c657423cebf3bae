"""The jupyter_server extension: the only writer of the credential store, over REST."""
