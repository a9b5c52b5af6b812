# Builds the authz binary into an image with nothing else in it. The
# binary embeds its policies, so the image needs no files besides it (and
# the CA certificates, for HTTPS policy bundles). Its file system is also
# a managed plugin's:
#   docker build -t hardened-authz-rootfs . &&
#   packaging/managed-plugin/create.sh --image hardened-authz-rootfs hardened-authz
# Without a registry (for golang), create.sh builds the same from the
# source tree with the local Go.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/authz ./cmd/authz

FROM scratch
COPY --from=build /out/authz /usr/bin/authz
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENTRYPOINT ["/usr/bin/authz"]
CMD ["serve"]
