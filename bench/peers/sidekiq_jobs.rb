# Sidekiq's side of the bench: the job, and the client calls the Python driver times.
#   ruby sidekiq_jobs.rb single N OUT | bulk N OUT | fill N OUT | paced RATE DURATION OUT | stored | probe OUT
# The worker loads this file: sidekiq -r ./sidekiq_jobs.rb -q bench -c CONCURRENCY
require 'sidekiq'
require 'sidekiq/api'

class NoopJob
  include Sidekiq::Worker
  sidekiq_options queue: 'bench', retry: false

  def perform(payload, enqueued, out)
    File.open(out, 'a') { |f| f.write("#{payload['i']} #{enqueued} #{Time.now.to_f}\n") }
  end
end

PAD = 'x' * 100

def payload(i)
  { 'i' => i, 'pad' => PAD }
end

def now
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

if $PROGRAM_NAME == __FILE__
  Sidekiq.logger.level = Logger::WARN
  command = ARGV[0]
  case command
  when 'single', 'fill'
    n, out = ARGV[1].to_i, ARGV[2]
    start = now
    n.times { |i| NoopJob.perform_async(payload(i), Time.now.to_f, out) }
    puts(now - start)
  when 'bulk'
    n, out = ARGV[1].to_i, ARGV[2]
    start = now
    Sidekiq::Client.push_bulk('class' => NoopJob, 'args' => Array.new(n) { |i| [payload(i), 0.0, out] })
    puts(now - start)
  when 'paced'
    rate, duration, out = ARGV[1].to_f, ARGV[2].to_f, ARGV[3]
    total = [1, (rate * duration).round].max
    start = now
    total.times do |i|
      delay = start + i / rate - now
      sleep(delay) if delay > 0
      NoopJob.perform_async(payload(i), Time.now.to_f, out)
    end
    puts(now - start)
  when 'probe'
    NoopJob.perform_async(payload(-1), Time.now.to_f, ARGV[1])
  when 'stored'
    puts Sidekiq::Queue.new('bench').size
  else
    abort "unknown command #{command.inspect}"
  end
end
