/* Epoch microseconds of an aware datetime, without the PyLong arithmetic of
 * datetime.timestamp() (which was a tenth of a backtest's time per event).
 *
 * micros(d) == (d - 1970-01-01T00:00Z) // timedelta(microseconds=1), exactly; so
 * micros(d) / 1e6 == d.timestamp() bit for bit (both are one correctly rounded division
 * of integers below 2**53). The pure-Python fallback is signals/_clock.py.
 * Built by scripts/build-native.sh. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>

static long long days_before_year(long long y) {
    y -= 1;
    return y * 365 + y / 4 - y / 100 + y / 400;
}

static const int cum_days[13] = {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

static int is_leap(long long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static PyObject *micros(PyObject *self, PyObject *d) {
    if (!PyDateTime_Check(d)) {
        PyErr_SetString(PyExc_TypeError, "micros() needs a datetime");
        return NULL;
    }
    PyObject *tz = PyDateTime_DATE_GET_TZINFO(d);
    long long offset_us = 0;
    if (tz == Py_None) {
        PyErr_SetString(PyExc_ValueError, "micros() needs an aware datetime");
        return NULL;
    }
    if (tz != PyDateTime_TimeZone_UTC) {
        PyObject *off = PyObject_CallMethod(tz, "utcoffset", "O", d);
        if (off == NULL) return NULL;
        if (!PyDelta_Check(off)) {
            Py_DECREF(off);
            PyErr_SetString(PyExc_ValueError, "micros() needs an aware datetime");
            return NULL;
        }
        offset_us = ((long long)PyDateTime_DELTA_GET_DAYS(off) * 86400LL +
                     PyDateTime_DELTA_GET_SECONDS(off)) * 1000000LL +
                    PyDateTime_DELTA_GET_MICROSECONDS(off);
        Py_DECREF(off);
    }
    long long y = PyDateTime_GET_YEAR(d);
    int m = PyDateTime_GET_MONTH(d);
    long long days = days_before_year(y) + cum_days[m] + (m > 2 && is_leap(y)) +
                     PyDateTime_GET_DAY(d) - 1 - 719162;  /* 719162: days to 1970-01-01 */
    long long secs = days * 86400LL + PyDateTime_DATE_GET_HOUR(d) * 3600LL +
                     PyDateTime_DATE_GET_MINUTE(d) * 60LL + PyDateTime_DATE_GET_SECOND(d);
    return PyLong_FromLongLong(secs * 1000000LL + PyDateTime_DATE_GET_MICROSECOND(d) -
                               offset_us);
}

static PyMethodDef methods[] = {
    {"micros", micros, METH_O, "Epoch microseconds of an aware datetime."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "signals._clock", NULL, -1, methods};

PyMODINIT_FUNC PyInit__clock(void) {
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) return NULL;
    return PyModule_Create(&module);
}
