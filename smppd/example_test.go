package smppd_test

import (
	"context"
	"errors"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
)

func ExampleServer() {
	srv := &smppd.Server{
		Addr: ":2775",
		Auth: smppd.AuthenticatorFunc(func(_ context.Context, _ *smppd.Session, b *pdu.Bind) (smppd.Identity, pdu.Status) {
			if b.SystemID != "demo" || b.Password != "secret" {
				return smppd.Identity{}, pdu.StatusInvPaswd
			}
			return smppd.Identity{ID: b.SystemID}, pdu.StatusOK
		}),
		Handler: smppd.HandlerFunc(func(_ context.Context, w smppd.ResponseWriter, r *smppd.Request) {
			// Slow work (a store commit) would keep w and call Respond later
			// from another goroutine.
			if r.Header.ID == pdu.CmdSubmitSM {
				w.Respond(pdu.StatusOK, &pdu.SubmitSMResp{MessageID: "1"})
				return
			}
			w.Respond(pdu.StatusInvCmdID, nil)
		}),
	}

	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(ctx) // unbind every session, then close
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, smppd.ErrServerClosed) {
		log.Fatal(err)
	}
}
