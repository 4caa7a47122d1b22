/* One pane's tag counts, without a Python object per tag (signals/_tagcount.py is the
 * pure fallback and says why; both give the same answers, tests/threats/test_tagcount.py).
 *
 * Layout, as CPython's compact dict: entries in first-insertion order, an open-addressing
 * index of int32 into them, and every tag's characters in one growing buffer. A tag is
 * stored in its canonical PEP 393 form (kind byte + code units), so any str, lone
 * surrogates included, is a key without an encode step, and Python's cached str hash is
 * reused: a table never leaves its process in this form (snapshots use to_dict()).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    Py_hash_t hash;
    int64_t count;
    uint32_t off;  /* into keys: kind byte, then size bytes of code units */
    uint32_t size;
} Entry;

typedef struct {
    PyObject_HEAD
    Py_ssize_t cap;
    Entry *entries;
    Py_ssize_t used, allocated;
    Py_ssize_t dead; /* entries whose count fell to 0 (subtract_counts): skipped everywhere */
    int32_t *index; /* EMPTY, DUMMY (a dead entry's slot), or an entry */
    size_t mask;
    char *keys;
    size_t keys_used, keys_allocated;
} TagCounts;

#define EMPTY (-1)
#define DUMMY (-2)

static PyTypeObject TagCountsType;
static int add_all(TagCounts *t, PyObject *tags, long *dropped);

static int grow_index(TagCounts *t, size_t slots) {
    int32_t *index = PyMem_Malloc(slots * sizeof(int32_t));
    if (index == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memset(index, 0xff, slots * sizeof(int32_t));
    size_t mask = slots - 1;
    for (Py_ssize_t i = 0; i < t->used; i++) {
        if (t->entries[i].count == 0)
            continue;
        size_t j = (size_t)t->entries[i].hash & mask;
        while (index[j] >= 0)
            j = (j + 1) & mask;
        index[j] = (int32_t)i;
    }
    PyMem_Free(t->index);
    t->index = index;
    t->mask = mask;
    return 0;
}

static int init_storage(TagCounts *t) {
    t->allocated = 32; /* a pane of one area holds some hundreds: fewer regrowths */
    t->entries = PyMem_Malloc((size_t)t->allocated * sizeof(Entry));
    t->keys_allocated = 512;
    t->keys = PyMem_Malloc(t->keys_allocated);
    if (t->entries == NULL || t->keys == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return grow_index(t, 64);
}

/* A str's canonical form: its kind and code units. */
static int key_of(PyObject *tag, int *kind, const char **data, size_t *size) {
    if (!PyUnicode_Check(tag)) {
        PyErr_Format(PyExc_TypeError, "a tag must be a str, not %.100s", Py_TYPE(tag)->tp_name);
        return -1;
    }
    if (PyUnicode_READY(tag) < 0)
        return -1;
    *kind = PyUnicode_KIND(tag);
    *data = PyUnicode_DATA(tag);
    *size = (size_t)PyUnicode_GET_LENGTH(tag) * (size_t)*kind;
    return 0;
}

/* The slot of the index holding this key, or of the empty slot where it would go. */
static size_t probe(const TagCounts *t, Py_hash_t hash, int kind, const char *data, size_t size) {
    size_t j = (size_t)hash & t->mask;
    for (;;) {
        int32_t i = t->index[j];
        if (i == EMPTY)
            return j;
        if (i >= 0) {
            const Entry *e = &t->entries[i];
            if (e->hash == hash && e->size == size && (unsigned char)t->keys[e->off] == kind &&
                memcmp(t->keys + e->off + 1, data, size) == 0)
                return j;
        }
        j = (j + 1) & t->mask;
    }
}

/* Room for ``n`` entries (n larger than allocated); -1 on error. */
static int grow_entries(TagCounts *t, Py_ssize_t n) {
    Entry *entries = PyMem_Realloc(t->entries, (size_t)n * sizeof(Entry));
    if (entries == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->entries = entries;
    t->allocated = n;
    return 0;
}

/* Room for ``n`` bytes of keys (n larger than allocated); -1 on error. */
static int grow_keys(TagCounts *t, size_t n) {
    char *keys = PyMem_Realloc(t->keys, n);
    if (keys == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->keys = keys;
    t->keys_allocated = n;
    return 0;
}

/* Appends a new entry for the key at index slot ``slot``; -1 on error. */
static int insert_at(TagCounts *t, size_t slot, Py_hash_t hash, int kind, const char *data,
                     size_t size, int64_t count) {
    if (t->used >= INT32_MAX || t->keys_used + size + 1 > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "TagCounts is full");
        return -1;
    }
    if (t->used == t->allocated && grow_entries(t, t->allocated * 2) < 0)
        return -1;
    if (t->keys_used + size + 1 > t->keys_allocated) {
        size_t n = t->keys_allocated * 2;
        while (n < t->keys_used + size + 1)
            n *= 2;
        if (grow_keys(t, n) < 0)
            return -1;
    }
    Entry *e = &t->entries[t->used];
    e->hash = hash;
    e->count = count;
    e->off = (uint32_t)t->keys_used;
    e->size = (uint32_t)size;
    t->keys[t->keys_used] = (char)kind;
    memcpy(t->keys + t->keys_used + 1, data, size);
    t->keys_used += size + 1;
    t->index[slot] = (int32_t)t->used;
    t->used++;
    /* Load at most 1/2: most probes of a pane's long tail are misses. */
    if ((size_t)t->used * 2 > t->mask + 1)
        return grow_index(t, (t->mask + 1) * 2);
    return 0;
}

/* Adds ``count`` to a key (inserting it when ``room``); 1 when it was not kept. */
static int add_key(TagCounts *t, Py_hash_t hash, int kind, const char *data, size_t size,
                   int64_t count, int room) {
    size_t slot = probe(t, hash, kind, data, size);
    int32_t i = t->index[slot];
    if (i >= 0) {
        t->entries[i].count += count;
        return 0;
    }
    if (!room)
        return 1;
    return insert_at(t, slot, hash, kind, data, size, count);
}

static int add_tag(TagCounts *t, PyObject *tag, int64_t count, int capped) {
    int kind;
    const char *data;
    size_t size;
    if (key_of(tag, &kind, &data, &size) < 0)
        return -1;
    Py_hash_t hash = PyObject_Hash(tag);
    if (hash == -1)
        return -1;
    return add_key(t, hash, kind, data, size, count, !capped || t->used - t->dead < t->cap);
}

static PyObject *entry_str(const TagCounts *t, const Entry *e) {
    int kind = (unsigned char)t->keys[e->off];
    return PyUnicode_FromKindAndData(kind, t->keys + e->off + 1, (Py_ssize_t)(e->size / kind));
}

/* (tag, count): the entry's tag with a count of the caller's (its own, or a window's). */
static PyObject *entry_item(const TagCounts *t, const Entry *e, long long count) {
    PyObject *tag = entry_str(t, e);
    if (tag == NULL)
        return NULL;
    return Py_BuildValue("(NL)", tag, count);
}

static int fill_from(TagCounts *t, PyObject *counts) {
    PyObject *items = PyMapping_Items(counts);
    if (items == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *kv = PyList_GET_ITEM(items, i);
        if (!PyTuple_Check(kv) || PyTuple_GET_SIZE(kv) != 2) {
            PyErr_SetString(PyExc_TypeError, "counts.items() must give (tag, count) pairs");
            Py_DECREF(items);
            return -1;
        }
        PyObject *n = PyTuple_GET_ITEM(kv, 1);
        long long value = -1;
        if (PyLong_Check(n) && !PyBool_Check(n))
            value = PyLong_AsLongLong(n);
        if (value < 1) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "a tag count must be an int >= 1, not %R", n);
            Py_DECREF(items);
            return -1;
        }
        if (add_tag(t, PyTuple_GET_ITEM(kv, 0), value, 0) < 0) {
            Py_DECREF(items);
            return -1;
        }
    }
    Py_DECREF(items);
    return 0;
}

static int TagCounts_init(TagCounts *self, PyObject *args, PyObject *kwds) {
    static char *names[] = {"cap", "counts", NULL};
    Py_ssize_t cap;
    PyObject *counts = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n|O", names, &cap, &counts))
        return -1;
    if (cap < 0) {
        PyErr_SetString(PyExc_ValueError, "cap must be >= 0");
        return -1;
    }
    if (self->entries != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "TagCounts is already initialised");
        return -1;
    }
    self->cap = cap;
    if (init_storage(self) < 0)
        return -1;
    if (counts != Py_None)
        return fill_from(self, counts);
    return 0;
}

static void TagCounts_dealloc(TagCounts *self) {
    PyMem_Free(self->entries);
    PyMem_Free(self->index);
    PyMem_Free(self->keys);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int ready(TagCounts *self) {
    if (self->entries == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "TagCounts.__init__ was not called");
        return -1;
    }
    return 0;
}

static PyObject *TagCounts_add(TagCounts *self, PyObject *tags) {
    if (ready(self) < 0)
        return NULL;
    long dropped = 0;
    if (add_all(self, tags, &dropped) < 0)
        return NULL;
    return PyLong_FromLong(dropped);
}

static int add_table(TagCounts *self, TagCounts *other) {
    for (Py_ssize_t i = 0; i < other->used; i++) {
        const Entry *e = &other->entries[i];
        if (e->count == 0)
            continue;
        int kind = (unsigned char)other->keys[e->off];
        if (add_key(self, e->hash, kind, other->keys + e->off + 1, e->size, e->count, 1) < 0)
            return -1;
    }
    return 0;
}

/* Drops the dead entries: the table is rebuilt in order, so it never holds more dead
 * entries than live ones. */
static int compact(TagCounts *t) {
    char *keys = PyMem_Malloc(t->keys_allocated);
    if (keys == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t live = 0;
    size_t keys_used = 0;
    for (Py_ssize_t i = 0; i < t->used; i++) {
        Entry e = t->entries[i];
        if (e.count == 0)
            continue;
        memcpy(keys + keys_used, t->keys + e.off, e.size + 1);
        e.off = (uint32_t)keys_used;
        keys_used += e.size + 1;
        t->entries[live++] = e;
    }
    PyMem_Free(t->keys);
    t->keys = keys;
    t->keys_used = keys_used;
    t->used = live;
    t->dead = 0;
    size_t slots = 16;
    while ((size_t)live * 2 > slots)
        slots *= 2;
    return grow_index(t, slots);
}

static int subtract_table(TagCounts *self, TagCounts *other) {
    for (Py_ssize_t i = 0; i < other->used; i++) {
        const Entry *e = &other->entries[i];
        if (e->count == 0)
            continue;
        int kind = (unsigned char)other->keys[e->off];
        size_t slot = probe(self, e->hash, kind, other->keys + e->off + 1, e->size);
        int32_t at = self->index[slot];
        if (at < 0 || self->entries[at].count < e->count) {
            PyErr_SetString(PyExc_ValueError,
                            "subtract_counts: a tag would fall below zero (it was not added)");
            return -1;
        }
        self->entries[at].count -= e->count;
        if (self->entries[at].count == 0) {
            self->index[slot] = DUMMY;
            self->dead++;
        }
    }
    if (self->dead > 8 && self->dead * 2 > self->used)
        return compact(self);
    return 0;
}

/* The method ``name`` of two ready tables: ``op(self, other)``. */
static PyObject *with_table(TagCounts *self, PyObject *other, const char *name,
                            int (*op)(TagCounts *, TagCounts *)) {
    if (ready(self) < 0)
        return NULL;
    if (!PyObject_TypeCheck(other, &TagCountsType)) {
        PyErr_Format(PyExc_TypeError, "%s takes a TagCounts, not %.100s", name,
                     Py_TYPE(other)->tp_name);
        return NULL;
    }
    if (ready((TagCounts *)other) < 0 || op(self, (TagCounts *)other) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *TagCounts_subtract_counts(TagCounts *self, PyObject *other) {
    return with_table(self, other, "subtract_counts", subtract_table);
}

static PyObject *TagCounts_add_counts(TagCounts *self, PyObject *other) {
    return with_table(self, other, "add_counts", add_table);
}

static PyObject *TagCounts_get(TagCounts *self, PyObject *tag) {
    if (ready(self) < 0)
        return NULL;
    int kind;
    const char *data;
    size_t size;
    if (key_of(tag, &kind, &data, &size) < 0)
        return NULL;
    Py_hash_t hash = PyObject_Hash(tag);
    if (hash == -1)
        return NULL;
    int32_t i = self->index[probe(self, hash, kind, data, size)];
    return PyLong_FromLongLong(i >= 0 ? (long long)self->entries[i].count : 0);
}

static PyObject *TagCounts_at_least(TagCounts *self, PyObject *arg) {
    if (ready(self) < 0)
        return NULL;
    long long n = PyLong_AsLongLong(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < self->used; i++) {
        const Entry *e = &self->entries[i];
        if (e->count == 0 || e->count < n)
            continue;
        PyObject *tag = entry_str(self, e);
        if (tag == NULL || PyList_Append(out, tag) < 0) {
            Py_XDECREF(tag);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(tag);
    }
    return out;
}

static PyObject *items_at_least(TagCounts *self, long long n) {
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < self->used; i++) {
        const Entry *e = &self->entries[i];
        if (e->count == 0 || e->count < n)
            continue;
        PyObject *item = entry_item(self, e, (long long)e->count);
        if (item == NULL || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(item);
    }
    return out;
}

static PyObject *TagCounts_items(TagCounts *self, PyObject *Py_UNUSED(ignored)) {
    if (ready(self) < 0)
        return NULL;
    return items_at_least(self, INT64_MIN);
}

typedef struct {
    PyObject *tag;
    int64_t count;
} Fed;

static int by_code_point(const void *a, const void *b) {
    /* Tags of one table are distinct strs: PyUnicode_Compare cannot fail or tie here. */
    return PyUnicode_Compare(((const Fed *)a)->tag, ((const Fed *)b)->tag);
}

/* feed(update, n): update(tag, count) for each tag counted n times or more, by tag (code
 * points), as a sketch must be fed to be the same however the events were partitioned. No
 * tuple or list is made: a block's seal calls this for thousands of tags. */
static PyObject *TagCounts_feed(TagCounts *self, PyObject *const *args, Py_ssize_t nargs) {
    if (ready(self) < 0)
        return NULL;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "feed(update, n)");
        return NULL;
    }
    long long n = PyLong_AsLongLong(args[1]);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    Fed *fed = PyMem_Malloc(((size_t)self->used + 1) * sizeof(Fed));
    if (fed == NULL)
        return PyErr_NoMemory();
    Py_ssize_t k = 0;
    PyObject *result = NULL;
    for (Py_ssize_t i = 0; i < self->used; i++) {
        const Entry *e = &self->entries[i];
        if (e->count == 0 || e->count < n)
            continue;
        if ((fed[k].tag = entry_str(self, e)) == NULL)
            goto done;
        fed[k++].count = e->count;
    }
    qsort(fed, (size_t)k, sizeof(Fed), by_code_point);
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *count = PyLong_FromLongLong((long long)fed[i].count);
        if (count == NULL)
            goto done;
        PyObject *call_args[2] = {fed[i].tag, count};
        PyObject *r = PyObject_Vectorcall(args[0], call_args, 2, NULL);
        Py_DECREF(count);
        if (r == NULL)
            goto done;
        Py_DECREF(r);
    }
    result = Py_None;
    Py_INCREF(result);
done:
    for (Py_ssize_t i = 0; i < k; i++)
        Py_DECREF(fed[i].tag);
    PyMem_Free(fed);
    return result;
}

static PyObject *to_dict(TagCounts *self) {
    PyObject *out = PyDict_New();
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < self->used; i++) {
        const Entry *e = &self->entries[i];
        if (e->count == 0)
            continue;
        PyObject *tag = entry_str(self, e);
        PyObject *n = tag == NULL ? NULL : PyLong_FromLongLong((long long)e->count);
        if (n == NULL || PyDict_SetItem(out, tag, n) < 0) {
            Py_XDECREF(tag);
            Py_XDECREF(n);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(tag);
        Py_DECREF(n);
    }
    return out;
}

static PyObject *TagCounts_to_dict(TagCounts *self, PyObject *Py_UNUSED(ignored)) {
    if (ready(self) < 0)
        return NULL;
    return to_dict(self);
}

static Py_ssize_t TagCounts_len(TagCounts *self) { return self->used - self->dead; }

static PyObject *TagCounts_richcompare(PyObject *a, PyObject *b, int op) {
    if ((op != Py_EQ && op != Py_NE) || !PyObject_TypeCheck(a, &TagCountsType))
        Py_RETURN_NOTIMPLEMENTED;
    if (!PyObject_TypeCheck(b, &TagCountsType) && !PyDict_Check(b))
        Py_RETURN_NOTIMPLEMENTED;
    if (ready((TagCounts *)a) < 0)
        return NULL;
    PyObject *left = to_dict((TagCounts *)a);
    if (left == NULL)
        return NULL;
    PyObject *right;
    if (PyDict_Check(b)) {
        right = b;
        Py_INCREF(right);
    } else if (ready((TagCounts *)b) < 0 || (right = to_dict((TagCounts *)b)) == NULL) {
        Py_DECREF(left);
        return NULL;
    }
    PyObject *result = PyObject_RichCompare(left, right, op);
    Py_DECREF(left);
    Py_DECREF(right);
    return result;
}

static PyObject *TagCounts_repr(TagCounts *self) {
    if (ready(self) < 0)
        return NULL;
    PyObject *d = to_dict(self);
    if (d == NULL)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("TagCounts(%R)", d);
    Py_DECREF(d);
    return r;
}

/* Room for ``n`` entries and ``key_bytes`` of keys without a regrowth (load at most 1/2). */
static int reserve(TagCounts *t, Py_ssize_t n, size_t key_bytes) {
    if (n > t->allocated && grow_entries(t, n) < 0)
        return -1;
    if (key_bytes > t->keys_allocated && grow_keys(t, key_bytes) < 0)
        return -1;
    size_t slots = t->mask + 1;
    while (slots < (size_t)n * 2)
        slots *= 2;
    return slots > t->mask + 1 ? grow_index(t, slots) : 0;
}

static PyObject *tagcount_summed(PyObject *Py_UNUSED(module), PyObject *tables) {
    TagCounts *out = (TagCounts *)PyObject_CallFunction((PyObject *)&TagCountsType, "n", 0);
    if (out == NULL)
        return NULL;
    PyObject *seq = PySequence_Fast(tables, "summed() takes a sequence of TagCounts");
    if (seq == NULL) {
        Py_DECREF(out);
        return NULL;
    }
    Py_ssize_t entries = 0;
    size_t key_bytes = 0;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyObject_TypeCheck(t, &TagCountsType)) {
            PyErr_Format(PyExc_TypeError, "summed() takes TagCounts, not %.100s",
                         Py_TYPE(t)->tp_name);
            goto fail;
        }
        if (ready((TagCounts *)t) < 0)
            goto fail;
        entries += ((TagCounts *)t)->used - ((TagCounts *)t)->dead;
        key_bytes += ((TagCounts *)t)->keys_used;
    }
    /* Sized once for the sum of the tables (an upper bound of the union): built in one
     * go, the table is filled without regrowing; it is short-lived (a block's seal). */
    if (entries > 0 && (ready(out) < 0 || reserve(out, entries, key_bytes) < 0))
        goto fail;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        if (add_table(out, (TagCounts *)PySequence_Fast_GET_ITEM(seq, i)) < 0)
            goto fail;
    }
    Py_DECREF(seq);
    return (PyObject *)out;
fail:
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

/* window_at_least(tables, n): (tag, total) of every tag whose counts over the tables sum to
 * n or more, in no set order. Found without summing the tables: a tag with n over k tables
 * has ceil(n / k) in one of them, so only such entries are looked up in the other tables
 * (by their stored hash, no str made), and each tag is reported from the first table where
 * it reaches that. */
static PyObject *tagcount_window_at_least(PyObject *Py_UNUSED(module), PyObject *const *args,
                                          Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "window_at_least(tables, n)");
        return NULL;
    }
    long long n = PyLong_AsLongLong(args[1]);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 1) {
        PyErr_SetString(PyExc_ValueError, "window_at_least: n must be >= 1");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(args[0], "window_at_least() takes a sequence of TagCounts");
    if (seq == NULL)
        return NULL;
    Py_ssize_t k = PySequence_Fast_GET_SIZE(seq);
    TagCounts **tables = (TagCounts **)PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < k; i++) {
        if (!PyObject_TypeCheck((PyObject *)tables[i], &TagCountsType)) {
            PyErr_Format(PyExc_TypeError, "window_at_least() takes TagCounts, not %.100s",
                         Py_TYPE(tables[i])->tp_name);
            Py_DECREF(seq);
            return NULL;
        }
        if (ready(tables[i]) < 0) {
            Py_DECREF(seq);
            return NULL;
        }
    }
    PyObject *out = PyList_New(0);
    if (out == NULL || k == 0) {
        Py_DECREF(seq);
        return out;
    }
    long long per = (n + k - 1) / k;
    for (Py_ssize_t i = 0; i < k; i++) {
        const TagCounts *t = tables[i];
        for (Py_ssize_t x = 0; x < t->used; x++) {
            const Entry *e = &t->entries[x];
            if (e->count == 0 || e->count < per)
                continue;
            int kind = (unsigned char)t->keys[e->off];
            const char *data = t->keys + e->off + 1;
            long long total = e->count;
            int earlier = 0;
            for (Py_ssize_t j = 0; j < k && !earlier; j++) {
                if (j == i)
                    continue;
                const TagCounts *u = tables[j];
                int32_t at = u->index[probe(u, e->hash, kind, data, e->size)];
                if (at < 0)
                    continue;
                long long c = u->entries[at].count;
                if (j < i && c >= per)
                    earlier = 1;
                total += c;
            }
            if (earlier || total < n)
                continue;
            PyObject *item = entry_item(t, e, total);
            if (item == NULL || PyList_Append(out, item) < 0) {
                Py_XDECREF(item);
                Py_DECREF(out);
                Py_DECREF(seq);
                return NULL;
            }
            Py_DECREF(item);
        }
    }
    Py_DECREF(seq);
    return out;
}

static TagCounts *new_table(Py_ssize_t cap) {
    TagCounts *t = (TagCounts *)PyType_GenericAlloc(&TagCountsType, 0);
    if (t == NULL)
        return NULL;
    t->cap = cap;
    if (init_storage(t) < 0) {
        Py_DECREF(t);
        return NULL;
    }
    return t;
}

static int add_all(TagCounts *t, PyObject *tags, long *dropped) {
    PyObject *seq = PySequence_Fast(tags, "tags must be a sequence of str");
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        int r = add_tag(t, items[i], 1, 1);
        if (r < 0) {
            Py_DECREF(seq);
            return -1;
        }
        *dropped += r;
    }
    Py_DECREF(seq);
    return 0;
}

/* count_tags(per, stream, tags, cap): the hot loop's one call per event. */
static PyObject *tagcount_count_tags(PyObject *Py_UNUSED(module), PyObject *const *args,
                                     Py_ssize_t nargs) {
    if (nargs != 4 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "count_tags(per: dict, stream, tags, cap)");
        return NULL;
    }
    PyObject *found = PyDict_GetItemWithError(args[0], args[1]);
    if (found == NULL) {
        if (PyErr_Occurred())
            return NULL;
        Py_ssize_t cap = PyLong_AsSsize_t(args[3]);
        if (cap == -1 && PyErr_Occurred())
            return NULL;
        if (cap < 0) {
            PyErr_SetString(PyExc_ValueError, "cap must be >= 0");
            return NULL;
        }
        found = (PyObject *)new_table(cap);
        if (found == NULL)
            return NULL;
        int r = PyDict_SetItem(args[0], args[1], found);
        Py_DECREF(found); /* the dict holds it */
        if (r < 0)
            return NULL;
    } else if (!PyObject_TypeCheck(found, &TagCountsType) || ready((TagCounts *)found) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "count_tags: per[stream] is not a TagCounts");
        return NULL;
    }
    long dropped = 0;
    if (add_all((TagCounts *)found, args[2], &dropped) < 0)
        return NULL;
    return PyLong_FromLong(dropped);
}

static PyObject *TagCounts_get_cap(TagCounts *self, void *Py_UNUSED(closure)) {
    return PyLong_FromSsize_t(self->cap);
}

static PyGetSetDef TagCounts_getset[] = {
    {"cap", (getter)TagCounts_get_cap, NULL, "at most this many distinct tags are taken by add()",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef TagCounts_methods[] = {
    {"add", (PyCFunction)TagCounts_add, METH_O,
     "Count one occurrence of each tag; returns how many were not kept (cap reached)."},
    {"add_counts", (PyCFunction)TagCounts_add_counts, METH_O, "Add every count of another table."},
    {"subtract_counts", (PyCFunction)TagCounts_subtract_counts, METH_O,
     "Take every count of a table added before away; a tag at 0 is gone."},
    {"get", (PyCFunction)TagCounts_get, METH_O, "The count of a tag, 0 if absent."},
    {"at_least", (PyCFunction)TagCounts_at_least, METH_O, "The tags counted n times or more."},
    {"items", (PyCFunction)TagCounts_items, METH_NOARGS, "(tag, count) in insertion order."},
    {"feed", (PyCFunction)(void (*)(void))TagCounts_feed, METH_FASTCALL,
     "feed(update, n): update(tag, count) for each tag counted n times or more, by tag."},
    {"to_dict", (PyCFunction)TagCounts_to_dict, METH_NOARGS, "A dict of the counts."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods TagCounts_as_sequence = {
    .sq_length = (lenfunc)TagCounts_len,
};

static PyTypeObject TagCountsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "signals._tagcount.TagCounts",
    .tp_basicsize = sizeof(TagCounts),
    .tp_dealloc = (destructor)TagCounts_dealloc,
    .tp_repr = (reprfunc)TagCounts_repr,
    .tp_as_sequence = &TagCounts_as_sequence,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One pane's tag counts: tag -> count, at most cap distinct from add().",
    .tp_richcompare = TagCounts_richcompare,
    .tp_methods = TagCounts_methods,
    .tp_getset = TagCounts_getset,
    .tp_init = (initproc)TagCounts_init,
    .tp_new = PyType_GenericNew,
};

static PyMethodDef module_methods[] = {
    {"summed", tagcount_summed, METH_O, "A new table with the counts of the tables added up."},
    {"window_at_least", (PyCFunction)(void (*)(void))tagcount_window_at_least, METH_FASTCALL,
     "window_at_least(tables, n): (tag, total) of every tag whose counts over the tables sum "
     "to n or more, in no set order."},
    {"count_tags", (PyCFunction)(void (*)(void))tagcount_count_tags, METH_FASTCALL,
     "count_tags(per, stream, tags, cap): add tags to per[stream], made if absent; returns "
     "how many were not kept."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_tagcount", "One pane's tag counts, in C.", -1, module_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__tagcount(void) {
    if (PyType_Ready(&TagCountsType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&TagCountsType);
    if (PyModule_AddObject(m, "TagCounts", (PyObject *)&TagCountsType) < 0) {
        Py_DECREF(&TagCountsType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
