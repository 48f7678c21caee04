using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Fuse.Tests;

/// <summary><see cref="WorkerTurns"/> on its own: who waits for a turn, and that the end of serving lets everyone through.</summary>
[Category(TestCategories.Unit)]
[CancelAfter(30_000)]
public sealed class WorkerTurnsTests
{
    [TestCase(10, 2, true)]
    [TestCase(3, 2, true)]
    [TestCase(2, 2, false)]
    [TestCase(1, 8, false)]
    public void For_MoreWorkersThanCores_TurnsOnlyThen(int workers, int cores, bool turns) =>
        Assert.That(WorkerTurns.For(workers, cores) is not null, Is.EqualTo(turns));

    [Test]
    public void Take_AllTurnsHeld_WaitsUntilOneIsGivenUp()
    {
        var turns = WorkerTurns.For(3, 1)!;
        var first = turns.NewTurn();
        var second = turns.NewTurn();
        first.Take();
        first.Take(); // held already: no second turn taken

        var waiter = Task.Run(second.Take);
        bool tookWhileHeld = waiter.Wait(TimeSpan.FromMilliseconds(200));
        first.GiveUp();
        bool tookAfter = waiter.Wait(TimeSpan.FromSeconds(10));

        Assert.Multiple(() =>
        {
            Assert.That(tookWhileHeld, Is.False, "a second worker took the only turn while the first held it");
            Assert.That(tookAfter, Is.True, "the turn given up did not reach the waiting worker");
            Assert.That(first.Holding, Is.False);
            Assert.That(second.Holding, Is.True);
        });
    }

    [Test]
    public void GiveUp_NotHeld_GivesNothingAway()
    {
        var turns = WorkerTurns.For(3, 1)!;
        var first = turns.NewTurn();
        var second = turns.NewTurn();
        first.GiveUp(); // never taken: must not add a turn
        second.Take();

        Assert.That(Task.Run(first.Take).Wait(TimeSpan.FromMilliseconds(200)), Is.False, "a turn appeared from a give-up without one");
        second.GiveUp();
    }

    [Test]
    public void OpenAll_WorkersWaiting_AllGoOn()
    {
        var turns = WorkerTurns.For(4, 1)!;
        turns.NewTurn().Take();
        var waiters = Enumerable.Range(0, 3).Select(_ => Task.Run(turns.NewTurn().Take)).ToArray();
        Assert.That(Task.WaitAll(waiters, TimeSpan.FromMilliseconds(200)), Is.False, "the workers did not wait");

        turns.OpenAll();

        Assert.That(Task.WaitAll(waiters, TimeSpan.FromSeconds(10)), Is.True, "workers still waiting after the end");
    }
}
