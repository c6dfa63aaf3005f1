/* Two plug-ins, each with its own static copy of the otelc API, loaded into one process: a
 * provider installed through one copy must be the global provider seen by the other, because the
 * global slot is one default-visibility symbol the dynamic linker binds to one definition. The
 * host program links no otelc code itself. PLUGIN_DIR is set by tests/CMakeLists.txt. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "otel/impl.h"

typedef void (*set_fn)(otel_tracer_provider *tp);
typedef otel_tracer_provider *(*get_fn)(void);

static otel_tracer *fake_get_tracer(otel_tracer_provider *tp, otel_str name, const otel_tracer_options *opts)
{
    (void)tp, (void)name, (void)opts;
    return NULL;
}
static const struct otel_tracer_provider_ops fake_ops = { .get_tracer = fake_get_tracer };
static otel_tracer_provider fake_provider = { &fake_ops };

static void *load(const char *name)
{
    void *h = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    if (!h)
        print_error("dlopen %s: %s\n", name, dlerror());
    assert_non_null(h);
    return h;
}

static void test_provider_set_in_one_copy_is_global_in_the_other(void **state)
{
    (void)state;
    void *a = load(PLUGIN_DIR "/libotel_test_plugin_a.so");
    void *b = load(PLUGIN_DIR "/libotel_test_plugin_b.so");
    set_fn a_set = (set_fn)dlsym(a, "a_set");
    get_fn a_get = (get_fn)dlsym(a, "a_get");
    set_fn b_set = (set_fn)dlsym(b, "b_set");
    get_fn b_get = (get_fn)dlsym(b, "b_get");
    assert_non_null(a_set);
    assert_non_null(b_get);

    otel_tracer_provider *noop = b_get();
    assert_ptr_not_equal(noop, &fake_provider);
    a_set(&fake_provider);
    assert_ptr_equal(b_get(), &fake_provider);
    assert_ptr_equal(a_get(), &fake_provider);
    b_set(NULL);
    assert_ptr_not_equal(a_get(), &fake_provider);
    dlclose(b);
    dlclose(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_provider_set_in_one_copy_is_global_in_the_other),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
