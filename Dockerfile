# The emulator in a container, serving the handler of the project mounted at /app:
#   docker build -t runpod-emulator .
#   docker run --rm -p 8000:8000 -v "$PWD:/app" runpod-emulator handler.py
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/emulator
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY fixtures ./fixtures
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
WORKDIR /app
EXPOSE 8000
ENTRYPOINT ["node", "/opt/emulator/dist/cli/main.js", "--host", "0.0.0.0"]
