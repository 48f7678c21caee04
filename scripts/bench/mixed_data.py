# mixed_data.py OUT SIZE_MIB: the disk of bench workload 11. Per 1 MiB block i: i % 4 in (0, 1) random bytes,
# 2 text-like (a made-up vocabulary, 64 MiB of it generated and reused), 3 zeros (a hole).
import os, random, sys

out, mib = sys.argv[1], int(sys.argv[2])
rng = random.Random(20261207)
syll = ["ka","to","ri","en","se","lo","ma","qu","ar","is","on","de","ul","pe","ne","xi","ba","st","or","th"]
vocab = ["".join(rng.choice(syll) for _ in range(rng.randint(1,4))) for _ in range(8000)]
weights = [1.0/(i+1) for i in range(len(vocab))]
def text(n):
    words = rng.choices(vocab, weights, k=n//5)
    out=[]; line=0
    for w in words:
        out.append(w); line += len(w)+1
        if line > 70: out.append("\n"); line = 0
    b = " ".join(out).encode()
    while len(b) < n: b += b[:n-len(b)]
    return b[:n]
pool = text(64 << 20)
with open(out, "wb") as f:
    f.truncate(mib << 20)
    for i in range(mib):
        k = i % 4
        if k == 3: continue
        f.seek(i << 20)
        if k < 2: f.write(os.urandom(1 << 20))
        else:
            j = (i * 7919) % 64
            f.write(pool[j << 20:(j + 1) << 20])
