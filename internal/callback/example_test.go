package callback_test

import (
	"fmt"
	"time"

	"github.com/smppd/smppd/internal/callback"
)

// A receiver checks the signature over the raw body before parsing it.
func ExampleVerify() {
	secret := "whsec_example"
	body := []byte(`{"event_id":"evt_1_1","status":"DELIVRD"}`)
	header := callback.Sign(secret, time.Now(), body) // what smppd sends in Smppd-Signature

	fmt.Println(callback.Verify(secret, header, body, 5*time.Minute))
	fmt.Println(callback.Verify(secret, header, []byte(`{"event_id":"evt_1_1","status":"UNDELIV"}`), 5*time.Minute))
	// Output:
	// <nil>
	// callback: signature mismatch
}
