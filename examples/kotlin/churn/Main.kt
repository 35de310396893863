// Allocation churn for a garbage collector: gigabytes in total of short-lived arrays, small
// objects and dead cycles (objects pointing at each other, then dropped), next to a small
// live set that is checked at the end. Without a working collector it runs out of memory.
// Arguments: a case (`arrays`, `objects`, `cycles`, `all`) and a number of rounds (default
// 100). Prints a checksum per case.

class Small(val a: Int, val b: Long, var next: Small?)

class Peer(val id: Int) {
    var other: Peer? = null
    var payload: IntArray? = null
}

/** The live set: a ring of 1024 slots that each round overwrites a few of. */
val live = arrayOfNulls<Any?>(1024)

/** Per round: 64 IntArrays of 1..4096 elements and 64 Array<Any?> of 256 (about 1 MiB). */
fun arrays(rounds: Int): Long {
    var sum = 0L
    var seed = 1
    for (r in 0 until rounds) {
        for (i in 0 until 64) {
            seed = seed * 1103515245 + 12345
            val len = 1 + ((seed ushr 8) and 4095)
            val a = IntArray(len) { it xor r }
            sum += a[len - 1] + a[len / 2]
            val refs = arrayOfNulls<Any?>(256)
            refs[i and 255] = a
            refs[255] = refs
            sum += (refs[i and 255] as IntArray).size
            if (i == 0) live[r and 1023] = a
        }
    }
    for (x in live) if (x is IntArray) sum += x.size
    return sum
}

/** Per round: 100,000 small objects in chains of 100 (about 3 MB). */
fun objects(rounds: Int): Long {
    var sum = 0L
    for (r in 0 until rounds) {
        for (chain in 0 until 1000) {
            var head: Small? = null
            for (i in 0 until 100) head = Small(i, (r.toLong() shl 20) + chain, head)
            var c = head
            while (c != null) {
                sum += c.a + (c.b and 0xff)
                c = c.next
            }
            if (chain == 0) live[(r * 7) and 1023] = head
        }
    }
    for (x in live) if (x is Small) sum += x.b
    return sum
}

/** Per round: 20,000 pairs of peers pointing at each other, each with a 16-int payload,
 *  the pair kept in the live set for a while, then dropped (about 3 MB). */
fun cycles(rounds: Int): Long {
    var sum = 0L
    for (r in 0 until rounds) {
        for (i in 0 until 20000) {
            val p = Peer(i)
            val q = Peer(i + 1)
            p.other = q
            q.other = p
            p.payload = IntArray(16) { it + r }
            sum += p.other!!.other!!.id + q.id + p.payload!![15]
            live[(i * 31 + r) and 1023] = p
        }
    }
    for (x in live) if (x is Peer) sum += x.other!!.id
    return sum
}

fun main() {
    val args = programArgs()
    val case = args.getOrNull(0) ?: "all"
    val rounds = args.getOrNull(1)?.toIntOrNull() ?: 100
    val cases = mapOf("arrays" to ::arrays, "objects" to ::objects, "cycles" to ::cycles)
    val run = if (case == "all") cases.keys.toList() else listOf(case)
    for (name in run) {
        val f = cases[name] ?: run {
            println("unknown case $name (known: ${cases.keys.joinToString()}, all)")
            return
        }
        live.fill(null)
        println("$name: rounds $rounds, checksum ${f(rounds)}")
    }
}
