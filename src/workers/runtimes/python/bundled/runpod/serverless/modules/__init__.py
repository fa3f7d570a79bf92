"""runpod.serverless.modules: the pieces of the official SDK's worker that handlers import directly."""
