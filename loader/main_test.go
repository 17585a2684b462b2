package loader

import (
	"os"
	"testing"

	"github.com/clinic/interactions/storetest"
)

// testStore is the one store of this test binary (see storetest).
var testStore *storetest.Store

func TestMain(m *testing.M) {
	os.Exit(storetest.Main(m, &testStore))
}
