# Build: docker build -t triaged .   (used by docker-compose.yml)
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/triaged ./cmd/triaged && \
    CGO_ENABLED=0 go build -trimpath -o /out/triagetool ./cmd/triagetool && \
    mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/triaged /out/triagetool /usr/local/bin/
# The storage directory belongs to the unprivileged user, so a fresh volume is writable.
COPY --from=build --chown=65532:65532 /out/data /var/lib/triaged
WORKDIR /var/lib/triaged
USER nonroot
EXPOSE 9095
VOLUME /var/lib/triaged
ENTRYPOINT ["/usr/local/bin/triaged"]
# All interfaces, as a container needs: triaged refuses to start so until it is given a token
# (--web.auth-token-file), basic auth in --web.config.file, or --web.allow-unauthenticated.
CMD ["--storage.path=/var/lib/triaged", "--web.listen-address=:9095"]
