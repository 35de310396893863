// The Benchmarks Game's binary-trees: allocate and walk many short-lived complete binary
// trees next to one long-lived tree. Argument: the maximum depth (default 10).

class Node(val left: Node?, val right: Node?) {
    fun check(): Int = 1 + (left?.check() ?: 0) + (right?.check() ?: 0)
}

fun bottomUp(depth: Int): Node =
    if (depth > 0) Node(bottomUp(depth - 1), bottomUp(depth - 1)) else Node(null, null)

fun main() {
    val args = programArgs()
    val n = args.firstOrNull()?.toIntOrNull() ?: 10
    val minDepth = 4
    val maxDepth = maxOf(minDepth + 2, n)
    val stretch = maxDepth + 1
    println("stretch tree of depth $stretch\t check: ${bottomUp(stretch).check()}")
    val longLived = bottomUp(maxDepth)
    var depth = minDepth
    while (depth <= maxDepth) {
        val iterations = 1 shl (maxDepth - depth + minDepth)
        var check = 0
        for (i in 1..iterations) check += bottomUp(depth).check()
        println("$iterations\t trees of depth $depth\t check: $check")
        depth += 2
    }
    println("long lived tree of depth $maxDepth\t check: ${longLived.check()}")
}
