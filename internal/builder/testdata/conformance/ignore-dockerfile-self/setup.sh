printf 'v\n' > f; printf 'Dockerfile\n.dockerignore\n' > .dockerignore
