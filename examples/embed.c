/*
 * Minimal embedding: download one URL with rangefetch on a uv_loop_t the
 * program owns, next to its own timer (standing for the rest of an
 * application's work on the same loop).
 *
 *   example_embed URL OUTPUT [CONNECTIONS]
 */
#include <stdio.h>
#include <stdlib.h>

#include <rangefetch.h>
#include <uv.h>

typedef struct app {
  uv_timer_t heartbeat;
  unsigned beats;
  int exit_code;
} app;

static void on_progress(rf_job *job, const rf_progress *p, void *user_data)
{
  (void)job;
  (void)user_data;
  if (p->total != RF_SIZE_UNKNOWN && p->total > 0)
    fprintf(stderr, "\r%5.1f%%  %u connections", 100.0 * (double)p->received /
                                                     (double)p->total,
            p->connections);
}

static void on_done(rf_job *job, const rf_result *r, void *user_data)
{
  app *a = user_data;

  (void)job;
  fprintf(stderr, "\n");
  if (r->error == RF_OK) {
    printf("saved %s: %llu bytes in %.2f s\n", r->path,
           (unsigned long long)r->bytes, r->seconds);
    a->exit_code = 0;
  } else {
    fprintf(stderr, "failed (%s): %s\n", rf_err_name(r->error), r->message);
    a->exit_code = 1;
  }
  /* The application's own work ends with the download. */
  uv_close((uv_handle_t *)&a->heartbeat, NULL);
}

static void on_heartbeat(uv_timer_t *t)
{
  app *a = t->data;

  a->beats++;
}

int main(int argc, char **argv)
{
  uv_loop_t loop;
  rf_engine_options eo = RF_ENGINE_OPTIONS_INIT;
  rf_job_options jo;
  rf_engine *engine = NULL;
  app a = { .exit_code = 1 };
  int rc;

  if (argc < 3) {
    fprintf(stderr, "usage: %s URL OUTPUT [CONNECTIONS]\n", argv[0]);
    return 2;
  }
  uv_loop_init(&loop);
  uv_timer_init(&loop, &a.heartbeat);
  a.heartbeat.data = &a;
  uv_timer_start(&a.heartbeat, on_heartbeat, 100, 100);

  eo.loop = &loop; /* run on our loop, not one of the engine's own */
  rc = rf_engine_new(&engine, &eo);
  if (rc != RF_OK) {
    fprintf(stderr, "rf_engine_new: %s\n", rf_strerror(rc));
    return 1;
  }
  rf_job_options_init(&jo);
  jo.url = argv[1];
  jo.output = argv[2];
  jo.connections = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
  jo.overwrite = 1;
  jo.on_progress = on_progress;
  jo.on_done = on_done;
  jo.user_data = &a;
  rc = rf_job_add(NULL, engine, &jo);
  if (rc != RF_OK) {
    fprintf(stderr, "rf_job_add: %s\n", rf_strerror(rc));
    uv_close((uv_handle_t *)&a.heartbeat, NULL);
  }
  uv_run(&loop, UV_RUN_DEFAULT);

  rf_engine_free(engine);
  uv_run(&loop, UV_RUN_DEFAULT); /* let the engine close its handles */
  if (uv_loop_close(&loop) != 0) {
    fprintf(stderr, "a handle was left open\n");
    return 1;
  }
  fprintf(stderr, "the loop also ran %u heartbeats of our own\n", a.beats);
  return a.exit_code;
}
