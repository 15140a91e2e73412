"""Which backend runs the chat model and the reward: in-process, in a worker process, or served over HTTP."""
