package fleet

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"

	"github.com/open-policy-agent/opa/v1/logging"
)

// opaLogger sends OPA's plugin and downloader messages to the plugin's
// structured log, so that one log says what the management plane did.
// OPA's Info messages (a bundle downloaded, a batch uploaded) are noisy
// at every poll, so they are logged at debug; its warnings and errors
// keep their level.
type opaLogger struct {
	log   *slog.Logger
	level logging.Level
}

func (l opaLogger) emit(lv slog.Level, format string, a []any) {
	if !l.log.Enabled(context.Background(), lv) {
		return
	}
	l.log.Log(context.Background(), lv, fmt.Sprintf(format, a...))
}

func (l opaLogger) Debug(format string, a ...any) { l.emit(slog.LevelDebug, format, a) }
func (l opaLogger) Info(format string, a ...any)  { l.emit(slog.LevelDebug, format, a) }
func (l opaLogger) Warn(format string, a ...any)  { l.emit(slog.LevelWarn, format, a) }
func (l opaLogger) Error(format string, a ...any) { l.emit(slog.LevelError, format, a) }

// WithFields keeps OPA's fields as attributes.
func (l opaLogger) WithFields(fields map[string]any) logging.Logger {
	attrs := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		attrs = append(attrs, k, v)
	}
	return opaLogger{log: l.log.With(attrs...), level: l.level}
}

// GetLevel is Debug when the slog handler takes debug records: OPA only
// builds some messages (a server's error body) at that level.
func (l opaLogger) GetLevel() logging.Level {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		return logging.Debug
	}
	return logging.Info
}

// SetLevel is ignored: --log-level decides.
func (l opaLogger) SetLevel(logging.Level) {}

// newID is a random version 4 UUID, as OPA's instance IDs are.
func newID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}
