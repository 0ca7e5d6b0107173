/* Closed-loop WHOIS load client: the C engine of bench/loadgen.py (which compiles it, writes its query file,
 * starts it and turns its result into loadgen's JSON result). It does what loadgen's Python `WhoisLoad` does
 * with less CPU per query (1.2-1.4x less here, see Cost below), so that a client sharing 2 cores with the
 * server and a writer is less often the one that sets the measured rate.
 *
 *   whoisload host=127.0.0.1 port=43 queries=Q.bin clients=64 duration=10 warmup=5 min_warmup=0 max_warmup=120
 *             check=1 cycle=1 head_bytes=512 cpu=-1 label=NAME result=R.txt latencies=L.bin
 *
 * Query file (little-endian): "WHQ1", u32 count, then per query u32 payload length, payload, u8 expected outcome
 * (0 found, 1 not-found, 2 error-reply, 3 failed, 255 none of them), u32 needle length (0: no needle), needle.
 * stdout: "window-start\n" and "window-end\n" the moment they happen; stderr: progress every 2 s, and the
 * message of an error exit (status 1). At the end: `result` (text, "key value" lines) and `latencies` (the
 * window's latencies in seconds, native doubles, in completion order).
 *
 * Each of `clients` slots keeps one query in flight: non-blocking connect, send the payload once connected,
 * read until the server closes, close, classify the first bytes, open the next. One edge-triggered epoll
 * registration per connection (in and out), so no epoll_ctl MOD; close() drops it from the set. The payload is
 * sent right after connect() when loopback has completed the handshake inside it (else on the out edge).
 *
 * Ports: the server closes first (it writes the answer, then closes), so TIME_WAIT is on the server's side and
 * this client's sockets end in LAST_ACK, then CLOSED: its ephemeral ports are free again at once. The next SYN
 * from a reused port meets the server's TIME_WAIT entry of the same 4-tuple, which accepts it (newer timestamp)
 * and is replaced: in a run at ~6,000 connections/s the server's TIME_WAIT count stayed at ~14,000 (connect()
 * takes the even half of the 28,000 ports first) with no failure, as with the Python engine. So no
 * SO_REUSEADDR (no bind() here), and no SO_LINGER {1, 0}: an RST instead of the FIN after EOF would spare the
 * server's kernel its TIME_WAIT and one ACK, and this client ~10 % of its CPU (measured), but no resolver
 * closes that way, so the server would be measured under another teardown than it meets in production.
 *
 * Cost: about 1 % of this program's CPU is its own code; the rest is the kernel's TCP work of one connection
 * per query, about 40 % of it the loopback receive processing of the packets this client sends (the server's
 * half of the handshake, of the query's arrival and of the teardown), which runs inside its connect(), send()
 * and close(). Piggybacking the handshake's last ACK on the query (TCP_DEFER_ACCEPT on the connecting socket)
 * saved nothing measurable and is not used either. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { FOUND, NOT_FOUND, ERROR_REPLY, FAILED, N_OUTCOMES };
static const char *const OUTCOME_NAMES[N_OUTCOMES] = {"found", "not-found", "error-reply", "failed"};
#define TIMEOUT_SECONDS 30.0
#define MAX_FAILURES 10000
#define MAX_EVENTS 256

struct query {
    const char *payload, *needle;
    uint32_t length, needle_length;
    uint8_t expect;
};

enum { CONNECTING, READING };

struct slot {
    int fd, state;
    uint32_t query, sent, head_length;
    uint64_t size;
    double start;
    char *head;
};

static struct {
    const char *host, *queries_path, *label, *result_path, *latencies_path;
    int port, clients, check, cycle, cpu;
    uint32_t head_bytes;
    double duration, warmup, max_warmup;
    uint64_t min_warmup;
} cfg;

static struct query *queries;
static uint32_t n_queries;
static uint64_t cursor;
static struct slot *slots;
static struct sockaddr_in addr;
static int ep;
static double t0, window_start = -1.0, window_end = 1e300, cpu_start, cpu_end;
static uint64_t completed, failures, wrong, bytes_in, outcomes[N_OUTCOMES];
static double *latencies;
static size_t n_latencies, latencies_capacity;
static char buffer[65536];

static double monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double process_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* 1234567 -> "1,234,567", as Python's format spec "," */
static const char *commas(char *out, long long value) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", value < 0 ? -value : value), j = 0;
    if (value < 0)
        out[j++] = '-';
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            out[j++] = ',';
        out[j++] = digits[i];
    }
    out[j] = '\0';
    return out;
}

static void mark(const char *line) {
    size_t length = strlen(line);
    if (write(STDOUT_FILENO, line, length) != (ssize_t)length)
        die("%s: cannot write to stdout", cfg.label);
}

static uint32_t next_query(void) {
    if (!cfg.cycle && cursor >= n_queries) {
        char a[32], b[32];
        die("%s: all %s queries of the list were sent after %.1f s (%s answers) and cycling is off: give the run a "
            "longer list",
            cfg.label, commas(a, n_queries), monotonic() - t0, commas(b, (long long)completed));
    }
    return (uint32_t)(cursor++ % n_queries);
}

static void record(double now, double start, int outcome, uint32_t q, uint64_t size, int content_ok) {
    completed++;
    if (outcome == FAILED && ++failures > MAX_FAILURES)
        die("%s: more than 10,000 failed queries; giving up", cfg.label);
    if (window_start >= 0 && now <= window_end) {
        if (n_latencies == latencies_capacity) {
            latencies_capacity = latencies_capacity ? 2 * latencies_capacity : 1 << 16;
            latencies = realloc(latencies, latencies_capacity * sizeof *latencies);
            if (!latencies)
                die("%s: out of memory", cfg.label);
        }
        latencies[n_latencies++] = now - start;
        outcomes[outcome]++;
        bytes_in += size;
        if (outcome == FAILED || (cfg.check && (outcome != queries[q].expect || !content_ok)))
            wrong++;
    }
}

static int classify(const char *head, uint32_t length) {
    if (length >= 12 && memcmp(head, "Domain Name:", 12) == 0)
        return FOUND;
    if (length >= 8 && memcmp(head, "No match", 8) == 0)
        return NOT_FOUND;
    if (length >= 6 && memcmp(head, "Error:", 6) == 0)
        return ERROR_REPLY;
    return FAILED;
}

/* Send what is left of the payload: 1 done, 0 not connected yet (or the socket buffer full), -1 failed. */
static int send_rest(struct slot *s) {
    const struct query *q = &queries[s->query];
    while (s->sent < q->length) {
        ssize_t n = send(s->fd, q->payload + s->sent, q->length - s->sent, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        s->sent += (uint32_t)n;
    }
    return 1;
}

static void reopen(struct slot *s);

static void fail(struct slot *s, double now) {
    close(s->fd);
    s->fd = -1;
    record(now, s->start, FAILED, s->query, 0, 1);
    reopen(s);
}

static void reopen(struct slot *s) {
    for (;;) {
        s->query = next_query();
        s->sent = s->head_length = 0;
        s->size = 0;
        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->fd < 0)
            die("%s: socket: %s", cfg.label, strerror(errno));
        s->start = monotonic();
        if (connect(s->fd, (const struct sockaddr *)&addr, sizeof addr) == 0 || errno == EINPROGRESS) {
            s->state = CONNECTING;
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                     .data.u32 = (uint32_t)(s - slots)};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) < 0)
                die("%s: epoll_ctl: %s", cfg.label, strerror(errno));
            int sent = send_rest(s);
            if (sent > 0)
                s->state = READING;
            if (sent >= 0)
                return;
            /* refused during connect() (loopback answers the SYN inside it): count it, try the next query */
            close(s->fd);
            s->fd = -1;
            record(monotonic(), s->start, FAILED, s->query, 0, 1);
            continue;
        }
        /* connect() itself failed: as the Python engine, count it, wait 1 ms, try the next query */
        close(s->fd);
        s->fd = -1;
        record(monotonic(), s->start, FAILED, s->query, 0, 1);
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
}

static void handle(struct slot *s, uint32_t events) {
    if (s->fd < 0)
        return;
    if (s->state == CONNECTING) {
        int sent = send_rest(s); /* a failed connect shows as send's error (the socket's SO_ERROR) */
        if (sent < 0) {
            fail(s, monotonic());
            return;
        }
        if (sent == 0)
            return;
        s->state = READING;
        if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
            return;
    }
    for (;;) { /* edge-triggered: read until EAGAIN or EOF */
        ssize_t n = recv(s->fd, buffer, sizeof buffer, 0);
        if (n > 0) {
            if (s->head_length < cfg.head_bytes) {
                uint32_t take = cfg.head_bytes - s->head_length;
                if ((size_t)n < take)
                    take = (uint32_t)n;
                memcpy(s->head + s->head_length, buffer, take);
                s->head_length += take;
            }
            s->size += (uint64_t)n;
            continue;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            fail(s, monotonic());
            return;
        }
        /* EOF: the answer is complete */
        double now = monotonic();
        close(s->fd);
        s->fd = -1;
        const struct query *q = &queries[s->query];
        int content_ok = !q->needle_length || memmem(s->head, s->head_length, q->needle, q->needle_length);
        record(now, s->start, classify(s->head, s->head_length), s->query, s->size, content_ok);
        reopen(s);
        return;
    }
}

/* Open/close the window; 0 when the run is over. */
static int tick(double now) {
    if (window_start < 0) {
        double elapsed = now - t0;
        if ((elapsed >= cfg.warmup && completed >= cfg.min_warmup) || elapsed >= cfg.max_warmup) {
            window_start = now;
            window_end = now + cfg.duration;
            cpu_start = process_cpu();
            mark("window-start\n");
        }
    } else if (now >= window_end) {
        cpu_end = process_cpu();
        mark("window-end\n");
        return 0;
    }
    return 1;
}

static void expire(double now) {
    for (int i = 0; i < cfg.clients; i++)
        if (slots[i].fd >= 0 && now - slots[i].start > TIMEOUT_SECONDS)
            fail(&slots[i], now);
}

static uint32_t read_u32(const unsigned char **p, const unsigned char *end) {
    if (end - *p < 4)
        die("%s: %s is truncated", cfg.label, cfg.queries_path);
    const unsigned char *b = *p;
    *p += 4;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static const char *read_bytes(const unsigned char **p, const unsigned char *end, uint32_t length) {
    if ((size_t)(end - *p) < length)
        die("%s: %s is truncated", cfg.label, cfg.queries_path);
    const char *b = (const char *)*p;
    *p += length;
    return b;
}

static void load_queries(void) {
    FILE *f = fopen(cfg.queries_path, "rb");
    if (!f)
        die("%s: cannot open %s: %s", cfg.label, cfg.queries_path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(size > 0 ? (size_t)size : 1);
    if (!data || size < 8 || fread(data, 1, (size_t)size, f) != (size_t)size || memcmp(data, "WHQ1", 4) != 0)
        die("%s: %s is not a query file", cfg.label, cfg.queries_path);
    fclose(f);
    const unsigned char *p = data + 4, *end = data + size;
    n_queries = read_u32(&p, end);
    if (!n_queries)
        die("%s: no queries", cfg.label);
    queries = calloc(n_queries, sizeof *queries);
    if (!queries)
        die("%s: out of memory", cfg.label);
    for (uint32_t i = 0; i < n_queries; i++) {
        struct query *q = &queries[i];
        q->length = read_u32(&p, end);
        q->payload = read_bytes(&p, end, q->length);
        q->expect = (uint8_t)*read_bytes(&p, end, 1);
        q->needle_length = read_u32(&p, end);
        q->needle = read_bytes(&p, end, q->needle_length);
    }
}

static void parse_args(int argc, char **argv) {
    cfg.cpu = -1;
    cfg.cycle = 1;
    cfg.label = "whoisload";
    cfg.host = "127.0.0.1";
    int seen = 0;
    for (int i = 1; i < argc; i++) {
        char *value = strchr(argv[i], '=');
        if (!value)
            die("whoisload: argument %s is not key=value", argv[i]);
        *value++ = '\0';
        const char *key = argv[i];
        seen++;
        if (!strcmp(key, "host")) cfg.host = value;
        else if (!strcmp(key, "port")) cfg.port = atoi(value);
        else if (!strcmp(key, "queries")) cfg.queries_path = value;
        else if (!strcmp(key, "clients")) cfg.clients = atoi(value);
        else if (!strcmp(key, "duration")) cfg.duration = atof(value);
        else if (!strcmp(key, "warmup")) cfg.warmup = atof(value);
        else if (!strcmp(key, "min_warmup")) cfg.min_warmup = strtoull(value, NULL, 10);
        else if (!strcmp(key, "max_warmup")) cfg.max_warmup = atof(value);
        else if (!strcmp(key, "check")) cfg.check = atoi(value);
        else if (!strcmp(key, "cycle")) cfg.cycle = atoi(value);
        else if (!strcmp(key, "head_bytes")) cfg.head_bytes = (uint32_t)strtoul(value, NULL, 10);
        else if (!strcmp(key, "cpu")) cfg.cpu = atoi(value);
        else if (!strcmp(key, "label")) cfg.label = value;
        else if (!strcmp(key, "result")) cfg.result_path = value;
        else if (!strcmp(key, "latencies")) cfg.latencies_path = value;
        else die("whoisload: unknown argument %s", key);
    }
    if (!cfg.queries_path || !cfg.result_path || !cfg.latencies_path || cfg.port <= 0 || cfg.clients <= 0 ||
        cfg.duration <= 0 || cfg.head_bytes < 16)
        die("whoisload: need queries=, result=, latencies=, port=, clients=, duration= (%d arguments given)", seen);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg.port);
    if (inet_pton(AF_INET, cfg.host, &addr.sin_addr) != 1)
        die("%s: host %s is not an IPv4 address", cfg.label, cfg.host);
}

static void write_results(void) {
    FILE *f = fopen(cfg.result_path, "w");
    if (!f)
        die("%s: cannot write %s: %s", cfg.label, cfg.result_path, strerror(errno));
    fprintf(f, "completed %llu\nfailures %llu\nwrong %llu\nbytes_in %llu\n", (unsigned long long)completed,
            (unsigned long long)failures, (unsigned long long)wrong, (unsigned long long)bytes_in);
    for (int i = 0; i < N_OUTCOMES; i++)
        if (outcomes[i])
            fprintf(f, "outcome %s %llu\n", OUTCOME_NAMES[i], (unsigned long long)outcomes[i]);
    fprintf(f, "warmup_s %.17g\nwindow_cpu_s %.17g\nlatencies %zu\n", window_start - t0, cpu_end - cpu_start,
            n_latencies);
    if (fclose(f) != 0)
        die("%s: cannot write %s", cfg.label, cfg.result_path);
    f = fopen(cfg.latencies_path, "wb");
    if (!f || fwrite(latencies, sizeof *latencies, n_latencies, f) != n_latencies || fclose(f) != 0)
        die("%s: cannot write %s", cfg.label, cfg.latencies_path);
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* loadgen.py killed (the parent's deadline): stop too */
    if (getppid() == 1)
        return 1;
    if (cfg.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cfg.cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0)
            die("%s: sched_setaffinity(%d): %s", cfg.label, cfg.cpu, strerror(errno));
    }
    load_queries();
    slots = calloc((size_t)cfg.clients, sizeof *slots);
    char *heads = malloc((size_t)cfg.clients * cfg.head_bytes);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!slots || !heads || ep < 0)
        die("%s: cannot set up: %s", cfg.label, strerror(errno));
    for (int i = 0; i < cfg.clients; i++) {
        slots[i].fd = -1;
        slots[i].head = heads + (size_t)i * cfg.head_bytes;
    }
    t0 = monotonic();
    for (int i = 0; i < cfg.clients; i++)
        reopen(&slots[i]);
    double last_tick = monotonic(), last_report = last_tick;
    uint64_t last_completed = 0;
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, 50);
        if (n < 0 && errno != EINTR)
            die("%s: epoll_wait: %s", cfg.label, strerror(errno));
        for (int i = 0; i < n; i++)
            handle(&slots[events[i].data.u32], events[i].events);
        double now = monotonic();
        if (now - last_tick < 0.05)
            continue;
        last_tick = now;
        if (!tick(now))
            break;
        if (now - last_report >= 2.0) {
            expire(now);
            char a[32], b[32];
            double rate = (double)(completed - last_completed) / (now - last_report);
            fprintf(stderr, "  %-14s %-8s %6.1f s  %9s answers  %8s/s  failures %llu\n", cfg.label,
                    window_start < 0 ? "warm-up" : "measure", now - t0, commas(a, (long long)completed),
                    commas(b, (long long)(rate + 0.5)), (unsigned long long)failures);
            last_report = now;
            last_completed = completed;
        }
    }
    for (int i = 0; i < cfg.clients; i++)
        if (slots[i].fd >= 0)
            close(slots[i].fd);
    write_results();
    return 0;
}
