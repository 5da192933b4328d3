# The image of compose.yaml's gateway and workers: `pidbox gateway` or `pidbox worker` under
# pidbox-init (PID 1: forwards signals, reaps orphans).
FROM node:20-bookworm-slim
# Workers build every sandbox with bubblewrap and compile its seccomp filter with libseccomp.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap libseccomp2 \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
# npm ci builds dist/ (prepare); never --omit=optional: koffi's and esbuild's binaries are optional dependencies.
RUN npm ci --no-audit --no-fund && rm -rf /root/.npm
ENV NODE_ENV=production PORT=8080
EXPOSE 8080
ENTRYPOINT ["bin/pidbox-init", "--", "bin/pidbox"]
CMD ["gateway"]
