# Builds the authz binary into an image with nothing else in it. The
# binary embeds its policies, so the image needs no files besides it.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/authz ./cmd/authz

FROM scratch
COPY --from=build /out/authz /usr/bin/authz
ENTRYPOINT ["/usr/bin/authz"]
CMD ["serve"]
