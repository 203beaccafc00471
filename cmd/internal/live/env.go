package live

import (
	"bytes"
	"os"
	"strconv"

	"github.com/spawntrace/spawntrace/analyze/recording"
)

// workloadEnv describes the environment the workload started with: ours
// when spawntrace launched it (it inherits it), /proc/PID/environ when
// attached.
func workloadEnv(attachPid int) *recording.EnvFacts {
	if attachPid == 0 {
		return recording.EnvFactsOf(os.Environ())
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(attachPid) + "/environ")
	if err != nil {
		return nil
	}
	var env []string
	for _, kv := range bytes.Split(b, []byte{0}) {
		if len(kv) > 0 {
			env = append(env, string(kv))
		}
	}
	return recording.EnvFactsOf(env)
}
