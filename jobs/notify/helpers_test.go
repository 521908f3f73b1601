package notify_test

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func zaptestLogger(core zapcore.Core) *zap.Logger { return zap.New(core) }
