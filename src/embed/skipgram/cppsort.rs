//! libstdc++'s `std::sort`, so equal-count words end up in fastText's order.
//!
//! fastText sorts its vocabulary with `std::sort` (`Dictionary::threshold` in
//! facebookresearch/fastText `src/dictionary.cc`), which is not stable: the order of words
//! with equal counts is whatever GCC's introsort leaves. Porting the algorithm
//! (libstdc++ `bits/stl_algo.h`: `__introsort_loop` with threshold 16 and depth limit
//! 2*floor(log2 n), median-of-three `__move_median_to_first`, `__unguarded_partition`,
//! `__final_insertion_sort`, and the `__partial_sort` heap-sort fallback from
//! `bits/stl_heap.h`) reproduces that order exactly, so word ids (and hence the random
//! initial rows each word gets) match fastText's.

const THRESHOLD: usize = 16;

/// Sorts `v` in place exactly as libstdc++'s `std::sort(v.begin(), v.end(), less)` does.
pub fn cpp_sort<T: Clone>(v: &mut [T], less: &impl Fn(&T, &T) -> bool) {
    let n = v.len();
    if n < 2 {
        return;
    }
    let depth = 2 * (usize::BITS - 1 - n.leading_zeros()) as usize;
    introsort_loop(v, 0, n, depth, less);
    final_insertion_sort(v, 0, n, less);
}

fn introsort_loop<T: Clone>(
    v: &mut [T],
    first: usize,
    mut last: usize,
    mut depth: usize,
    less: &impl Fn(&T, &T) -> bool,
) {
    while last - first > THRESHOLD {
        if depth == 0 {
            heap_sort(v, first, last, less);
            return;
        }
        depth -= 1;
        let cut = unguarded_partition_pivot(v, first, last, less);
        introsort_loop(v, cut, last, depth, less);
        last = cut;
    }
}

fn unguarded_partition_pivot<T: Clone>(
    v: &mut [T],
    first: usize,
    last: usize,
    less: &impl Fn(&T, &T) -> bool,
) -> usize {
    let mid = first + (last - first) / 2;
    move_median_to_first(v, first, first + 1, mid, last - 1, less);
    unguarded_partition(v, first + 1, last, first, less)
}

fn move_median_to_first<T>(
    v: &mut [T],
    result: usize,
    a: usize,
    b: usize,
    c: usize,
    less: &impl Fn(&T, &T) -> bool,
) {
    let pick = if less(&v[a], &v[b]) {
        if less(&v[b], &v[c]) {
            b
        } else if less(&v[a], &v[c]) {
            c
        } else {
            a
        }
    } else if less(&v[a], &v[c]) {
        a
    } else if less(&v[b], &v[c]) {
        c
    } else {
        b
    };
    v.swap(result, pick);
}

fn unguarded_partition<T>(
    v: &mut [T],
    mut first: usize,
    mut last: usize,
    pivot: usize,
    less: &impl Fn(&T, &T) -> bool,
) -> usize {
    loop {
        while less(&v[first], &v[pivot]) {
            first += 1;
        }
        last -= 1;
        while less(&v[pivot], &v[last]) {
            last -= 1;
        }
        if first >= last {
            return first;
        }
        v.swap(first, last);
        first += 1;
    }
}

fn final_insertion_sort<T: Clone>(
    v: &mut [T],
    first: usize,
    last: usize,
    less: &impl Fn(&T, &T) -> bool,
) {
    if last - first > THRESHOLD {
        insertion_sort(v, first, first + THRESHOLD, less);
        for i in first + THRESHOLD..last {
            unguarded_linear_insert(v, i, less);
        }
    } else {
        insertion_sort(v, first, last, less);
    }
}

fn insertion_sort<T: Clone>(
    v: &mut [T],
    first: usize,
    last: usize,
    less: &impl Fn(&T, &T) -> bool,
) {
    if first == last {
        return;
    }
    for i in first + 1..last {
        if less(&v[i], &v[first]) {
            v[first..=i].rotate_right(1);
        } else {
            unguarded_linear_insert(v, i, less);
        }
    }
}

fn unguarded_linear_insert<T: Clone>(v: &mut [T], mut last: usize, less: &impl Fn(&T, &T) -> bool) {
    let val = v[last].clone();
    let mut next = last - 1;
    while less(&val, &v[next]) {
        v[last] = v[next].clone();
        last = next;
        next -= 1;
    }
    v[last] = val;
}

/// `std::__partial_sort(first, last, last)`: make_heap then sort_heap.
fn heap_sort<T: Clone>(v: &mut [T], first: usize, last: usize, less: &impl Fn(&T, &T) -> bool) {
    let len = last - first;
    if len >= 2 {
        let mut parent = (len - 2) / 2;
        loop {
            let value = v[first + parent].clone();
            adjust_heap(v, first, parent, len, value, less);
            if parent == 0 {
                break;
            }
            parent -= 1;
        }
    }
    let mut end = last;
    while end - first > 1 {
        end -= 1;
        let value = v[end].clone();
        v[end] = v[first].clone();
        adjust_heap(v, first, 0, end - first, value, less);
    }
}

fn adjust_heap<T: Clone>(
    v: &mut [T],
    first: usize,
    mut hole: usize,
    len: usize,
    value: T,
    less: &impl Fn(&T, &T) -> bool,
) {
    let top = hole;
    let mut child = hole;
    while child < (len - 1) / 2 {
        child = 2 * (child + 1);
        if less(&v[first + child], &v[first + child - 1]) {
            child -= 1;
        }
        v[first + hole] = v[first + child].clone();
        hole = child;
    }
    if len & 1 == 0 && child == (len - 2) / 2 {
        child = 2 * (child + 1);
        v[first + hole] = v[first + child - 1].clone();
        hole = child - 1;
    }
    let mut parent = hole.wrapping_sub(1) / 2;
    while hole > top && less(&v[first + parent], &value) {
        v[first + hole] = v[first + parent].clone();
        hole = parent;
        parent = hole.wrapping_sub(1) / 2;
    }
    v[first + hole] = value;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::skipgram::rng::MinStd;

    /// Orders printed by libstdc++'s std::sort (see tests/parity/cppsort_fixture.cc).
    const FIXTURE: &str = include_str!("../../../examples/data/skipgram_cppsort_order.txt");

    #[test]
    fn matches_libstdcxx_order_with_ties() {
        let mut cases = 0;
        for line in FIXTURE.lines() {
            let (head, order) = line.split_once(": ").unwrap();
            let mut it = head.split(' ').map(|x| x.parse::<u64>().unwrap());
            let (n, m) = (it.next().unwrap(), it.next().unwrap());
            let mut rng = MinStd::new(7);
            let mut v: Vec<(u64, usize)> =
                (0..n as usize).map(|i| (rng.next_raw() % m, i)).collect();
            cpp_sort(&mut v, &|a: &(u64, usize), b: &(u64, usize)| a.0 > b.0);
            let got: Vec<usize> = v.iter().map(|p| p.1).collect();
            let expected: Vec<usize> = order
                .split_whitespace()
                .map(|x| x.parse().unwrap())
                .collect();
            assert_eq!(got, expected, "n={n} mod={m}");
            cases += 1;
        }
        assert_eq!(cases, 3);
    }

    #[test]
    fn heap_fallback_sorts() {
        let mut rng = MinStd::new(3);
        let mut v: Vec<u64> = (0..500).map(|_| rng.next_raw() % 97).collect();
        let mut expected = v.clone();
        expected.sort_unstable();
        heap_sort(&mut v, 0, 500, &|a: &u64, b: &u64| a < b);
        assert_eq!(v, expected);
    }
}
