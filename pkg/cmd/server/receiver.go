package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/gitgate-dev/gitgate/pkg/apiserver"
	"github.com/gitgate-dev/gitgate/pkg/receiver"
	"github.com/gitgate-dev/gitgate/pkg/repositories"
)

// ReceiverOptions configure the push-webhook listener.
type ReceiverOptions struct {
	BindAddress net.IP
	Port        int
}

func newReceiverOptions() *ReceiverOptions {
	return &ReceiverOptions{BindAddress: net.IPv4zero}
}

// AddFlags adds the receiver's flags.
func (r *ReceiverOptions) AddFlags(fs *pflag.FlagSet) {
	fs.IPVar(&r.BindAddress, "receiver-bind-address", r.BindAddress, "Address the push-webhook receiver listens on.")
	fs.IntVar(&r.Port, "receiver-port", r.Port, "HTTPS port of the push-webhook receiver (path "+receiver.PathPrefix+"<repository>), with the serving certificate of --tls-cert-file; 0 disables it. A repository takes notifications once its Secret has a webhookToken.")
}

// start serves the receiver until ctx ends.
func (r *ReceiverOptions) start(ctx context.Context, cfg *apiserver.Config, manager *repositories.Manager) error {
	if r.Port == 0 {
		return nil
	}
	cert := cfg.GenericConfig.SecureServing.Cert
	if cert == nil {
		return errors.New("the push-webhook receiver needs a serving certificate (--tls-cert-file)")
	}
	mux := http.NewServeMux()
	mux.Handle(receiver.PathPrefix, &receiver.Handler{Lookup: manager.Receiver})
	return serveTLS(ctx, "the push-webhook receiver", net.JoinHostPort(r.BindAddress.String(), strconv.Itoa(r.Port)), mux, cert, nil)
}
