// Collections and strings of the Kotlin standard library on Wasm GC: a hand-written linked
// list, ArrayList, HashMap, HashSet, sorting with comparators, sequences, data classes,
// StringBuilder, split and number formatting. Arguments: a case (`list`, `map`, `sort`,
// `seq`, `strings`, `all`) and a size (default 1000). Output depends only on the arguments.

/** A deterministic generator (xorshift32), so that every run sees the same data. */
class Rng(private var state: Int) {
    fun next(): Int {
        var x = state
        x = x xor (x shl 13)
        x = x xor (x ushr 17)
        x = x xor (x shl 5)
        state = x
        return x
    }

    fun below(n: Int): Int = ((next().toLong() and 0xffffffffL) % n).toInt()
}

/** A singly linked list of its own: cons cells, built, reversed in place, filtered. */
class Cell(val value: Int, var next: Cell?)

fun listCase(n: Int) {
    var head: Cell? = null
    for (i in 1..n) head = Cell(i, head)
    var sum = 0L
    var len = 0
    var c = head
    while (c != null) {
        sum += c.value * (len % 7 + 1)
        len++
        c = c.next
    }
    println("linked list: length $len, weighted sum $sum, head ${head?.value}")
    var reversed: Cell? = null
    while (head != null) {
        val next = head.next
        head.next = reversed
        reversed = head
        head = next
    }
    println("reversed: head ${reversed?.value}, second ${reversed?.next?.value}")
    val list = ArrayList<Int>()
    c = reversed
    while (c != null) {
        if (c.value % 3 == 0) list.add(c.value)
        c = c.next
    }
    list.removeAll { it % 2 == 0 }
    list.add(0, -1)
    list.addAll(listOf(7, 8, 9))
    println("array list: size ${list.size}, first ${list.take(5)}, last ${list.takeLast(4)}")
    println("indexOf(9) ${list.indexOf(9)}, lastIndexOf(9) ${list.lastIndexOf(9)}, contains(-1) ${-1 in list}")
    val deque = ArrayDeque<Int>()
    for (i in 0 until n) {
        if (i % 3 == 2) deque.removeFirst() else deque.addLast(i)
    }
    println("deque: size ${deque.size}, first ${deque.firstOrNull()}, last ${deque.lastOrNull()}")
}

fun mapCase(n: Int) {
    val rng = Rng(12345)
    val words = listOf("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")
    val counts = HashMap<String, Int>()
    repeat(n) {
        val w = words[rng.below(words.size)] + (rng.below(4))
        counts[w] = (counts[w] ?: 0) + 1
    }
    println("hash map: ${counts.size} keys, total ${counts.values.sum()}")
    for (k in counts.keys.sorted().take(6)) println("  $k = ${counts[k]}")
    val set = HashSet<Int>()
    repeat(n) { set.add(rng.below(n)) }
    val evens = set.count { it % 2 == 0 }
    println("hash set: ${set.size} distinct of $n draws, $evens even, contains(0) ${0 in set}")
    set.retainAll { it < n / 2 }
    println("after retainAll: ${set.size}")
    val byLength = words.groupBy { it.length }
    println("grouped: ${byLength.keys.sorted().map { it to byLength.getValue(it).sorted() }}")
    val linked = LinkedHashMap<Int, String>()
    for (i in 0 until 10) linked[(i * 7) % 10] = "v$i"
    linked.remove(3)
    println("linked hash map order: ${linked.entries.joinToString { "${it.key}=${it.value}" }}")
    val big = HashMap<Int, IntArray>()
    for (i in 0 until n) big[i] = IntArray(i % 16) { it * i }
    var s = 0L
    for ((k, v) in big) s += k.toLong() * v.sum()
    println("map of arrays: ${big.size} entries, checksum $s")
}

data class Person(val name: String, val age: Int, val score: Double)

fun sortCase(n: Int) {
    val rng = Rng(777)
    val names = listOf("Ada", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal")
    val people = List(n) { Person(names[rng.below(names.size)] + it % 10, 18 + rng.below(60), rng.below(10000) / 100.0) }
    val sorted = people.sortedWith(compareBy<Person> { it.age }.thenByDescending { it.score }.thenBy { it.name })
    println("youngest: ${sorted.first()}")
    println("oldest: ${sorted.last()}")
    val p = sorted[sorted.size / 2]
    val q = p.copy(age = p.age + 1)
    println("copy: $q, equal ${p == q}, equal to copy ${p == p.copy()}, hash equal ${p.hashCode() == p.copy().hashCode()}")
    val (name, age) = p
    println("destructured: $name $age")
    val ints = IntArray(n) { rng.next() }
    ints.sort()
    var ordered = true
    for (i in 1 until ints.size) if (ints[i - 1] > ints[i]) ordered = false
    println("int array sorted: $ordered, min ${ints.first()}, max ${ints.last()}")
    val strs = people.map { it.name }.distinct().sortedDescending()
    println("distinct names: ${strs.size}, first ${strs.take(3)}")
    val avg = people.groupBy { it.age / 10 * 10 }.mapValues { (_, v) -> v.sumOf { it.score } / v.size }
    for (decade in avg.keys.sorted()) println("  ${decade}s: ${avg.getValue(decade).toString().take(7)}")
    val mutable = people.toMutableList()
    mutable.sortBy { it.score }
    println("by score: ${mutable.first().score} .. ${mutable.last().score}, binary search ${mutable.map { it.score }.binarySearch(mutable[n / 3].score) >= 0}")
}

fun seqCase(n: Int) {
    val fib = generateSequence(Pair(0L, 1L)) { (a, b) -> Pair(b, a + b) }.map { it.first }
    println("fibonacci: ${fib.take(15).toList()}")
    val primes = sequence {
        var k = 2
        while (true) {
            if ((2..k / 2).none { k % it == 0 }) yield(k)
            k++
        }
    }
    println("primes: ${primes.take(12).toList()}, the ${n / 10}th: ${primes.elementAt(n / 10 - 1)}")
    val s = (1..n).asSequence().filter { it % 3 != 0 }.map { it.toLong() * it }.windowed(3).map { it.sum() }.take(n / 2).sum()
    println("windowed sum: $s")
    val chunks = (1..n).chunked(7).map { it.reduce { a, b -> a xor b } }
    println("chunked xor: ${chunks.size} chunks, ${chunks.take(6)}")
    val zipped = (1..5).zip(listOf("a", "b", "c", "d")).joinToString(" ") { "${it.first}${it.second}" }
    println("zipped: $zipped")
    val flat = (1..4).flatMap { i -> List(i) { i } }
    println("flatMap: $flat, fold ${flat.fold(1L) { acc, x -> acc * x }}")
    println("partition: ${(1..20).partition { it % 4 == 0 }}")
}

fun stringsCase(n: Int) {
    val sb = StringBuilder()
    for (i in 0 until n) {
        sb.append(i).append(',')
        if (i % 10 == 9) sb.append('\n')
    }
    val text = sb.toString()
    println("built: ${text.length} chars, ${text.lines().size} lines")
    val fields = text.split(',', '\n').filter { it.isNotEmpty() }
    println("split: ${fields.size} fields, sum ${fields.sumOf { it.toLong() }}")
    val words = "The quick brown fox jumps over the lazy dog".split(" ")
    println("words: ${words.map { it.lowercase() }.sorted().joinToString("|")}")
    println("reversed: ${words.reversed().joinToString(" ") { it.reversed() }}")
    println("upper/replace: ${"hello, world".uppercase().replace("O", "0")}")
    println("padding: [${"7".padStart(4, '0')}] [${"ab".padEnd(5, '.')}] [${42.toString().padStart(6)}]")
    println("radix: ${255.toString(16)} ${255.toString(2)} ${(-255).toString(36)} ${"ff".toInt(16)} ${"-1010".toInt(2)}")
    println("longs: ${Long.MAX_VALUE} ${Long.MIN_VALUE} ${Int.MIN_VALUE} ${UInt.MAX_VALUE} ${ULong.MAX_VALUE}")
    println("doubles: ${1.0 / 3} ${2.5e-8} ${1e21} ${100.0} ${-0.0} ${Double.NaN} ${Double.POSITIVE_INFINITY} ${0.1 + 0.2}")
    println("floats: ${1.0f / 3} ${3.4028235e38f} ${1.17549435E-38f}")
    println("parse: ${"3.25".toDouble() * 2} ${"-17".toInt() + 1} ${"12x".toIntOrNull()} ${"1e3".toDouble()}")
    println("chars: ${"Kotlin".map { it.code }} ${'a' + 2} ${"naïve café".length} ${"naïve café".encodeToByteArray().size}")
    println("substring: ${text.substring(0, 20).trim()} | ${text.substringAfterLast(',').trim()} | ${"a-b-c".substringBefore('-')}")
    println("compare: ${"apple" < "banana"} ${"a".compareTo("B")} ${"Straße".equals("STRASSE", ignoreCase = true)}")
    val template = buildString {
        for (i in 1..3) appendLine("row $i: ${"*".repeat(i)} ${i * 1.5}")
    }
    print(template)
    var h = 0
    for (i in 0 until n) h = 31 * h + "item-$i".hashCode()
    println("string hash checksum: $h")
}

fun main() {
    val args = programArgs()
    val case = args.getOrNull(0) ?: "all"
    val n = args.getOrNull(1)?.toIntOrNull() ?: 1000
    val cases = mapOf(
        "list" to ::listCase, "map" to ::mapCase, "sort" to ::sortCase,
        "seq" to ::seqCase, "strings" to ::stringsCase,
    )
    if (case == "all") {
        for ((name, f) in cases) {
            println("== $name")
            f(n)
        }
    } else {
        val f = cases[case] ?: run {
            println("unknown case $case (known: ${cases.keys.joinToString()}, all)")
            return
        }
        f(n)
    }
}
