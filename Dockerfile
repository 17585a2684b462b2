# syntax=docker/dockerfile:1

# Build stage: the Go line matches go.mod's (1.26).
FROM golang:1.26-bookworm AS build
WORKDIR /src

# Module downloads get their own layer, rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
# Static binaries: the embedded store's SQLite driver is pure Go, so no cgo is needed.
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/server . \
 && go build -trimpath -ldflags="-s -w" -o /out/seed ./seed

# Final stage: no shell, no package manager, runs as the non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
# The working directory (./data of the embedded store, .env) belongs to nonroot.
WORKDIR /home/nonroot
COPY --from=build /out/server /server
COPY --from=build /out/seed /seed
ENV PORT=8000
EXPOSE 8000
USER nonroot:nonroot
ENTRYPOINT ["/server"]
