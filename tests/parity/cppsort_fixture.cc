// Generates examples/data/skipgram_cppsort_order.txt (libstdc++ std::sort order with ties):
//   g++ -O2 -o /tmp/sorttest tests/parity/cppsort_fixture.cc
//   for a in "40 3" "300 4" "1000 50"; do echo "$a: $(/tmp/sorttest $a)"; done > examples/data/skipgram_cppsort_order.txt
// Prints the order std::sort leaves for keys with many ties (comparator: count desc).
#include <algorithm>
#include <cstdio>
#include <vector>
#include <random>
int main(int argc, char** argv) {
  int n = atoi(argv[1]); int mod = atoi(argv[2]);
  std::minstd_rand rng(7);
  std::vector<std::pair<int,int>> v;
  for (int i = 0; i < n; i++) v.push_back({int(rng() % mod), i});
  std::sort(v.begin(), v.end(), [](const std::pair<int,int>& a, const std::pair<int,int>& b){ return a.first > b.first; });
  for (auto& p : v) printf("%d ", p.second);
  printf("\n");
}
