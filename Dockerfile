# The gitgate-apiserver image that charts/gitgate runs: one static binary on
# distroless, non-root (uid 65532, as the chart's securityContext expects).
#   docker build -t ghcr.io/gitgate-dev/gitgate-apiserver:0.1.0 .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY pkg ./pkg
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/gitgate-apiserver ./cmd/gitgate-apiserver

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gitgate-apiserver /gitgate-apiserver
USER 65532:65532
ENTRYPOINT ["/gitgate-apiserver"]
