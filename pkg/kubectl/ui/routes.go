package ui

import (
	"bytes"
	"embed"
	"encoding/json"
	"html"
	"io/fs"
	"net/http"
	"strconv"
)

//go:embed static
var static embed.FS

// routes serves the page, its configuration, the user's access reviews
// and the proxy, with the token already stripped from the path.
func (s *Server) routes(forward, access http.Handler) http.Handler {
	files, _ := fs.Sub(static, "static") // cannot fail: static is embedded
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		b, err := fs.ReadFile(files, "index.html")
		if err != nil {
			writeStatus(w, http.StatusInternalServerError, "InternalError", "the page is missing from the binary: "+err.Error())
			return
		}
		// The configuration, in the page: its lists start without asking.
		config, _ := json.Marshal(s.config()) // cannot fail: strings and a bool
		b = bytes.Replace(b, []byte(`<meta name="gitgate-config" content="">`),
			[]byte(`<meta name="gitgate-config" content="`+html.EscapeString(string(config))+`">`), 1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})
	mux.Handle("GET /app.js", serveFile(files, "app.js", "text/javascript; charset=utf-8"))
	mux.Handle("GET /style.css", serveFile(files, "style.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.config())
	})
	mux.Handle("POST /access", access)
	mux.Handle("/k8s/", http.StripPrefix("/k8s", forward))
	return mux
}

// config is what the page needs to know about this server.
func (s *Server) config() map[string]any {
	return map[string]any{"namespace": s.namespace, "allNamespaces": s.allNamespaces}
}

func serveFile(files fs.FS, name, contentType string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			writeStatus(w, http.StatusInternalServerError, "InternalError", "the page is missing from the binary: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})
}

// writeStatus answers with a Kubernetes Status object, the shape every
// error from the cluster has, so the page shows both the same way.
func writeStatus(w http.ResponseWriter, code int, reason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"reason": reason, "message": message, "code": code,
	})
}
