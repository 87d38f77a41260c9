using CocoLaunch.Memory;

namespace CocoLaunch.Kvm.Tests;

/// <summary>The persistent interval map against a plain array model: values, runs, merging and old snapshots.</summary>
public sealed class IntervalMapTests
{
    private const int Keys = 300;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void RandomUpdates_MatchAnArrayModel(int seed)
    {
        var random = new Random(seed);
        var model = new int[Keys + 1]; // the last cell stands for every key from Keys to the top
        var map = new IntervalMap<int>(0);
        for (int step = 0; step < 2000; step++)
        {
            int start = random.Next(Keys), end = start + 1 + random.Next(Math.Min(40, Keys - start)), value = random.Next(4);
            var old = map;
            var oldModel = (int[])model.Clone();
            map = map.With((ulong)start, (ulong)end, value);
            Array.Fill(model, value, start, end - start);

            AssertMatches(model, map);
            AssertMatches(oldModel, old); // a reader's snapshot never changes
        }
    }

    [Fact]
    public void UpdateToTheTop_HasNoEndBoundary()
    {
        var map = new IntervalMap<int>(0).With(10, 20, 1).With(15, ulong.MaxValue, 2);
        Assert.Equal([(0UL, 10UL, 0), (10UL, 15UL, 1), (15UL, ulong.MaxValue, 2)], map.Runs(0, ulong.MaxValue));
        Assert.Equal(1, map.With(0, ulong.MaxValue, 0).RunCount);
    }

    private static void AssertMatches(int[] model, IntervalMap<int> map)
    {
        var expected = new List<(ulong, ulong, int)>();
        for (int k = 0; k <= Keys; k++)
        {
            ulong end = k == Keys ? ulong.MaxValue : (ulong)k + 1;
            if (expected.Count > 0 && expected[^1].Item3 == model[k])
            {
                expected[^1] = (expected[^1].Item1, end, model[k]);
            }
            else
            {
                expected.Add(((ulong)k, end, model[k]));
            }
        }

        Assert.Equal(expected, map.Runs(0, ulong.MaxValue));
        Assert.Equal(expected.Count, map.RunCount);
        foreach (var (start, end, value) in expected)
        {
            Assert.Equal((value, end), map.Lookup(start));
            Assert.True(map.IsUniform(start, Math.Min(end, Keys + 1), value));
        }

        for (int k = 0; k < Keys; k++)
        {
            Assert.Equal(model[k], map[(ulong)k]);
        }
    }
}
