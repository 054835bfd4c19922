"""One way of asking a model: messages, requests, the backends, the request cache, the budget."""
