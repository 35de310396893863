/* POSIX threads in C on wasm32-wasip1-threads (wasi-libc's pthreads over wasi::thread-spawn),
 * one mode per argument; every mode prints only what does not depend on scheduling.
 *
 * Modes: create-join (results through pthread_join, pthread_self, detached threads),
 * mutex (an exact counter under contention, trylock, a recursive mutex), condvar (a bounded
 * queue, a timed wait that times out), rwlock-barrier (readers never see a torn pair;
 * phases in lock-step), tls (_Thread_local and pthread keys with destructors), atomics (C11
 * <stdatomic.h> read-modify-writes, exact), wait-pong N (two threads hand a turn back and
 * forth N times through memory.atomic.wait32 / memory.atomic.notify, with a short spin
 * first), futex-pong N (the same without the spin: every hand-over a wait and a notify),
 * exit N (exit(N) from a thread while main waits in pthread_join). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(call)                                                              \
    do {                                                                         \
        int err_ = (call);                                                       \
        if (err_ != 0) {                                                         \
            fprintf(stderr, "%s failed: %s\n", #call, strerror(err_));           \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

/* create-join */

static void *square_sum(void *arg) {
    uint64_t t = (uint64_t)(uintptr_t)arg, sum = 0;
    for (uint64_t i = t * 100000; i < (t + 1) * 100000; i++) sum += i * i % 1000003;
    uint64_t *out = malloc(sizeof *out);
    *out = sum;
    return out;
}

static atomic_int detached_done;

static void *detached(void *arg) {
    (void)arg;
    atomic_fetch_add(&detached_done, 1);
    return NULL;
}

static void create_join(void) {
    pthread_t t[6];
    for (uintptr_t i = 0; i < 6; i++) CHECK(pthread_create(&t[i], NULL, square_sum, (void *)i));
    for (int i = 0; i < 6; i++) {
        void *r;
        CHECK(pthread_join(t[i], &r));
        printf("thread %d: sum %llu\n", i, (unsigned long long)*(uint64_t *)r);
        free(r);
    }
    pthread_attr_t attr;
    CHECK(pthread_attr_init(&attr));
    CHECK(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED));
    CHECK(pthread_attr_setstacksize(&attr, 256 * 1024));
    for (int i = 0; i < 4; i++) {
        pthread_t d;
        CHECK(pthread_create(&d, &attr, detached, NULL));
    }
    while (atomic_load(&detached_done) < 4) sched_yield();
    printf("4 detached threads ran\n");
    printf("pthread_equal(self, self): %d\n", pthread_equal(pthread_self(), pthread_self()) != 0);
    int sum = 0;
    for (int round = 0; round < 50; round++) {
        pthread_t a, b;
        void *ra, *rb;
        CHECK(pthread_create(&a, NULL, square_sum, (void *)(uintptr_t)0));
        CHECK(pthread_create(&b, NULL, square_sum, (void *)(uintptr_t)1));
        CHECK(pthread_join(a, &ra));
        CHECK(pthread_join(b, &rb));
        sum += *(uint64_t *)ra == 0 ? 0 : 1;
        free(ra);
        free(rb);
    }
    printf("100 short-lived threads joined, %d rounds\n", sum);
}

/* mutex */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t counter, weighted;

static void *bump(void *arg) {
    uint64_t t = (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 0; i < 100000; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        weighted += t * 100000 + i;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void *try_held(void *arg) {
    return (void *)(uintptr_t)pthread_mutex_trylock((pthread_mutex_t *)arg);
}

static void mutex(void) {
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, bump, (void *)i));
    for (int i = 0; i < 4; i++) CHECK(pthread_join(t[i], NULL));
    uint64_t n = 400000;
    printf("counter %llu (expected %llu), sum %llu (expected %llu)\n", (unsigned long long)counter,
           (unsigned long long)n, (unsigned long long)weighted, (unsigned long long)(n * (n - 1) / 2));
    pthread_mutex_lock(&lock);
    pthread_t other;
    void *r;
    CHECK(pthread_create(&other, NULL, try_held, &lock));
    CHECK(pthread_join(other, &r));
    pthread_mutex_unlock(&lock);
    printf("trylock of a held mutex: %s\n", (uintptr_t)r == EBUSY ? "EBUSY" : "unexpected");
    pthread_mutexattr_t ma;
    pthread_mutex_t rec;
    CHECK(pthread_mutexattr_init(&ma));
    CHECK(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE));
    CHECK(pthread_mutex_init(&rec, &ma));
    CHECK(pthread_mutex_lock(&rec));
    CHECK(pthread_mutex_lock(&rec));
    CHECK(pthread_mutex_unlock(&rec));
    CHECK(pthread_mutex_unlock(&rec));
    printf("recursive mutex locked twice and released\n");
}

/* condvar */

#define CAP 4
#define ITEMS 20000
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static int queue[CAP], qhead, qlen, qdone;

static void *consume(void *arg) {
    uint64_t *sum = arg;
    for (;;) {
        pthread_mutex_lock(&qlock);
        while (qlen == 0 && !qdone) pthread_cond_wait(&not_empty, &qlock);
        if (qlen == 0) {
            pthread_mutex_unlock(&qlock);
            return NULL;
        }
        int x = queue[qhead];
        qhead = (qhead + 1) % CAP;
        qlen--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&qlock);
        *sum += (uint64_t)x;
    }
}

static void condvar(void) {
    pthread_t t[3];
    uint64_t sums[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) CHECK(pthread_create(&t[i], NULL, consume, &sums[i]));
    for (int x = 1; x <= ITEMS; x++) {
        pthread_mutex_lock(&qlock);
        while (qlen == CAP) pthread_cond_wait(&not_full, &qlock);
        queue[(qhead + qlen) % CAP] = x;
        qlen++;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&qlock);
    }
    pthread_mutex_lock(&qlock);
    qdone = 1;
    pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&qlock);
    for (int i = 0; i < 3; i++) CHECK(pthread_join(t[i], NULL));
    printf("bounded queue: sum %llu (expected %llu)\n",
           (unsigned long long)(sums[0] + sums[1] + sums[2]),
           (unsigned long long)ITEMS * (ITEMS + 1) / 2);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += 20 * 1000 * 1000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&qlock);
    int r = pthread_cond_timedwait(&not_empty, &qlock, &deadline);
    pthread_mutex_unlock(&qlock);
    printf("timed wait without a signal: %s\n", r == ETIMEDOUT ? "ETIMEDOUT" : "unexpected");
}

/* rwlock-barrier */

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static uint64_t pair_a, pair_b;
static atomic_int writers_left = 2;
static atomic_ullong torn;

static void *writer(void *arg) {
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        pthread_rwlock_wrlock(&rw);
        pair_a++;
        pair_b++;
        pthread_rwlock_unlock(&rw);
    }
    atomic_fetch_sub(&writers_left, 1);
    return NULL;
}

static void *reader(void *arg) {
    (void)arg;
    do {
        pthread_rwlock_rdlock(&rw);
        if (pair_a != pair_b) atomic_fetch_add(&torn, 1);
        pthread_rwlock_unlock(&rw);
    } while (atomic_load(&writers_left) > 0);
    return NULL;
}

#define PHASES 200
static pthread_barrier_t barrier;
static atomic_ullong slots[4];
static atomic_int wrong, serial;

static void *phase_worker(void *arg) {
    int t = (int)(uintptr_t)arg;
    for (unsigned long long p = 0; p < PHASES; p++) {
        atomic_store(&slots[t], p * 10 + (unsigned long long)t);
        pthread_barrier_wait(&barrier);
        unsigned long long sum = 0;
        for (int i = 0; i < 4; i++) sum += atomic_load(&slots[i]);
        if (sum != p * 40 + 6) atomic_fetch_add(&wrong, 1);
        if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
            atomic_fetch_add(&serial, 1);
    }
    return NULL;
}

static void rwlock_barrier(void) {
    pthread_t t[5];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, writer, NULL));
    for (int i = 2; i < 5; i++) CHECK(pthread_create(&t[i], NULL, reader, NULL));
    for (int i = 0; i < 5; i++) CHECK(pthread_join(t[i], NULL));
    printf("rwlock: pair (%llu, %llu), torn reads %llu\n", (unsigned long long)pair_a,
           (unsigned long long)pair_b, (unsigned long long)atomic_load(&torn));
    CHECK(pthread_barrier_init(&barrier, NULL, 4));
    for (uintptr_t i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, phase_worker, (void *)i));
    for (int i = 0; i < 4; i++) CHECK(pthread_join(t[i], NULL));
    printf("barrier: %d phases x 4 threads, wrong sums %d, serial threads %d\n", PHASES,
           atomic_load(&wrong), atomic_load(&serial));
}

/* tls */

static _Thread_local int tls_counter = 100;
static pthread_key_t key;
static atomic_int destructed_sum;

static void destruct(void *value) { atomic_fetch_add(&destructed_sum, (int)(uintptr_t)value); }

static void *tls_worker(void *arg) {
    int t = (int)(uintptr_t)arg;
    int start = tls_counter;
    for (int i = 0; i < t * 1000; i++) tls_counter++;
    pthread_setspecific(key, (void *)(uintptr_t)(t * 10));
    int from_key = (int)(uintptr_t)pthread_getspecific(key);
    return (void *)(uintptr_t)(start * 1000000 + tls_counter * 100 + from_key);
}

static void tls(void) {
    CHECK(pthread_key_create(&key, destruct));
    tls_counter = 7;
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, tls_worker, (void *)(i + 1)));
    for (int i = 0; i < 4; i++) {
        void *r;
        CHECK(pthread_join(t[i], &r));
        uintptr_t v = (uintptr_t)r;
        printf("thread %d: _Thread_local started at %lu, ended at %lu; key value %lu\n", i + 1,
               (unsigned long)(v / 1000000), (unsigned long)(v / 100 % 10000), (unsigned long)(v % 100));
    }
    printf("main: _Thread_local %d, key destructors saw %d\n", tls_counter, atomic_load(&destructed_sum));
}

/* atomics */

static atomic_uint a32;
static atomic_ullong a64, cas;
static _Atomic unsigned char a8;
static _Atomic unsigned short a16;
static atomic_uint bits;

static void *hammer(void *arg) {
    unsigned t = (unsigned)(uintptr_t)arg;
    for (unsigned i = 0; i < 100000; i++) {
        atomic_fetch_add(&a32, 1);
        atomic_fetch_add(&a64, i);
        atomic_fetch_add(&a8, 1);
        atomic_fetch_add(&a16, 3);
        unsigned long long cur = atomic_load(&cas);
        while (!atomic_compare_exchange_weak(&cas, &cur, cur + 2)) {
        }
    }
    atomic_fetch_or(&bits, 1u << (t * 8));
    atomic_fetch_and(&bits, ~(1u << 31));
    atomic_fetch_xor(&bits, 0);
    return NULL;
}

static void atomics(void) {
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, hammer, (void *)i));
    for (int i = 0; i < 4; i++) CHECK(pthread_join(t[i], NULL));
    printf("u32 %u, u64 %llu, u8 %u, u16 %u, cas %llu, bits %#x\n", atomic_load(&a32),
           (unsigned long long)atomic_load(&a64), (unsigned)atomic_load(&a8),
           (unsigned)atomic_load(&a16), (unsigned long long)atomic_load(&cas), atomic_load(&bits));
}

/* wait-pong: the turn is even for main, odd for the other thread. */

static _Atomic int turn;
static long rounds;
static int spins;

static void await_turn(int want) {
    for (int spin = 0; spin < spins; spin++) {
        if (atomic_load(&turn) == want) return;
        /* On a loaded machine (or under qemu) the other thread may not be running: let it. */
        if (spin % 100 == 99) sched_yield();
    }
    for (;;) {
        int now = atomic_load(&turn);
        if (now == want) return;
        /* Returns at once (1, "not-equal") if the turn moved on meanwhile. */
        __builtin_wasm_memory_atomic_wait32((int *)&turn, now, -1);
    }
}

static void pass_turn(int next) {
    atomic_store(&turn, next);
    __builtin_wasm_memory_atomic_notify((int *)&turn, 1);
}

static void *pong(void *arg) {
    (void)arg;
    for (long r = 0; r < rounds; r++) {
        await_turn((int)(2 * r + 1));
        pass_turn((int)(2 * r + 2));
    }
    return NULL;
}

static void wait_pong(long n, int spin) {
    rounds = n;
    spins = spin;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, pong, NULL));
    for (long r = 0; r < rounds; r++) {
        await_turn((int)(2 * r));
        pass_turn((int)(2 * r + 1));
    }
    CHECK(pthread_join(t, NULL));
    printf("wait/notify ping-pong (spin %d): %ld round trips, final turn %d (expected %ld)\n", spin, n,
           atomic_load(&turn), 2 * n);
}

/* exit */

static void *exiter(void *arg) {
    int code = (int)(uintptr_t)arg;
    fprintf(stderr, "thread: exiting with %d\n", code);
    exit(code);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    long n = argc > 2 ? atol(argv[2]) : 0;
    if (!strcmp(mode, "create-join")) create_join();
    else if (!strcmp(mode, "mutex")) mutex();
    else if (!strcmp(mode, "condvar")) condvar();
    else if (!strcmp(mode, "rwlock-barrier")) rwlock_barrier();
    else if (!strcmp(mode, "tls")) tls();
    else if (!strcmp(mode, "atomics")) atomics();
    else if (!strcmp(mode, "wait-pong")) wait_pong(n > 0 ? n : 1000000, 50000);
    else if (!strcmp(mode, "futex-pong")) wait_pong(n > 0 ? n : 20000, 0);
    else if (!strcmp(mode, "exit")) {
        printf("main: a thread will exit(%ld)\n", n);
        fflush(stdout);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, exiter, (void *)(uintptr_t)n));
        pthread_join(t, NULL);
        printf("main: join returned (unexpected)\n");
        return 99;
    } else {
        fprintf(stderr, "usage: pthreads create-join|mutex|condvar|rwlock-barrier|tls|atomics|wait-pong N|futex-pong N|exit N\n");
        return 2;
    }
    return 0;
}
